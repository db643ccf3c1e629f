"""A run's page links the issues it opened and closed, each listed by name, and the records it
changed (its own entries in the audit log), over real HTTP after real runs against the ClassLink
simulator: Springfield's first sync opens the planted records' issues; the district then gives
the student without a grade a grade, and the next sync closes that issue."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select
from tests.integration.admin.conftest import AdminWorld, form_csrf, staff_sign_in

from rostersync.store.tables import audit_log, students, sync_runs


@dataclass(frozen=True)
class Runs:
    first: str  # Springfield's first sync: it opened the planted records' issues
    fixing: str  # the sync after the district gave the student without a grade a grade
    student_name: str  # that student, as the roster names them
    student_id: str  # their sourcedId


def rows_of(page: str) -> list[str]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return [html.unescape(r) for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture(scope="module")
def runs(world: AdminWorld) -> Runs:
    service = world.service
    district_id = world.sandbox.district_ids["springfield"]
    with service.engine.connect() as conn:
        first = conn.execute(
            select(sync_runs.c.id)
            .where(sync_runs.c.district_id == district_id)
            .order_by(sync_runs.c.started_at)
            .limit(1)
        ).scalar_one()
    data = world.sandbox.districts[0].data
    planted = next(p for p in data.planted if p.problem == "missing_grade")
    student = next(u for u in data.users if u["sourcedId"] == planted.sourced_id)
    tenant = world.sandbox.roster.tenant("springfield")
    edited = copy.deepcopy(tenant.data)
    for user in edited.users:
        if user["sourcedId"] == planted.sourced_id:
            user["grades"] = ["05"]
    tenant.data = edited
    fixing = service.runs.sync("springfield", trigger="manual")
    assert fixing.status == "succeeded", fixing.error
    return Runs(
        first=first,
        fixing=fixing.run_id,
        student_name=f"{student['givenName']} {student['familyName']}",
        student_id=planted.sourced_id,
    )


@pytest.fixture
def vendor(world: AdminWorld, runs: Runs) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, world.vendor.email).status_code == 303
        yield client


def test_the_run_page_links_its_opened_and_closed_issues_and_its_audit_entries(
    vendor: httpx.Client, runs: Runs
) -> None:
    page = vendor.get(f"/admin/runs/{runs.fixing}").text
    links = page[page.index('id="run-issue-links"') :]
    assert f'href="/admin/runs/{runs.fixing}/issues?which=opened"' in links
    assert "1 closed" in links
    assert f'href="/admin/districts/springfield/audit?run={runs.fixing}"' in page


def test_the_issues_a_sync_opened_are_listed_by_name_and_link_their_records(
    vendor: httpx.Client, runs: Runs, world: AdminWorld
) -> None:
    page = vendor.get(f"/admin/runs/{runs.first}/issues", params={"which": "opened"})
    assert page.status_code == 200
    rows = rows_of(page.text)
    planted = world.sandbox.districts[0].data.planted
    assert len(rows) >= len(planted)
    (row,) = [r for r in rows if runs.student_id in r]
    assert runs.student_name in row and "Closed" in row  # the later sync closed it
    assert f"/admin/districts/springfield/people/{runs.student_id}" in row


def test_the_issues_a_sync_closed_are_exactly_those_it_found_fixed(
    vendor: httpx.Client, runs: Runs
) -> None:
    page = vendor.get(f"/admin/runs/{runs.fixing}/issues", params={"which": "closed"}).text
    (row,) = rows_of(page)
    assert runs.student_name in row and runs.student_id in row
    nothing = vendor.get(f"/admin/runs/{runs.first}/issues", params={"which": "closed"}).text
    assert "None." in nothing


def test_a_runs_audit_entries_are_its_own_and_the_filter_is_kept_across_pages(
    vendor: httpx.Client, runs: Runs, world: AdminWorld
) -> None:
    with world.service.engine.connect() as conn:
        own = conn.execute(
            select(func.count()).where(audit_log.c.run_id == runs.first)
        ).scalar_one()
    assert own > 50  # more than a page: the first sync created every account
    page = vendor.get("/admin/districts/springfield/audit", params={"run": runs.first}).text
    assert f"of {own:,} audit entries" in page
    nav = page[page.index('id="audit-pages"') :]
    assert f"run={runs.first}" in nav[: nav.index("</nav>")]
    fixing = vendor.get("/admin/districts/springfield/audit", params={"run": runs.fixing}).text
    assert f"of {own:,}" not in fixing


def test_an_unknown_list_is_refused_and_another_districts_run_is_not_found(
    world: AdminWorld, runs: Runs
) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, world.dm_shelbyville.email).status_code == 303
        assert client.get(f"/admin/runs/{runs.first}/issues").status_code == 404
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, world.vendor.email).status_code == 303
        odd = client.get(f"/admin/runs/{runs.first}/issues", params={"which": "all"})
        assert odd.status_code in (400, 422)


def test_who_started_a_run_from_the_portal_is_named_on_it_and_audited(
    vendor: httpx.Client, world: AdminWorld
) -> None:
    page = vendor.get("/admin/districts/springfield").text
    started = vendor.post("/admin/districts/springfield/sync", data={"csrf": form_csrf(page)})
    assert started.status_code == 303, started.text
    run_id = started.headers["location"].split("/")[-1].split("?")[0]
    with world.service.engine.connect() as conn:
        (entry,) = conn.execute(
            select(audit_log.c.actor, audit_log.c.action).where(
                audit_log.c.run_id == run_id, audit_log.c.entity_type == "sync_run"
            )
        ).all()
    assert tuple(entry) == (f"staff:{world.vendor.id}", "start")
    # The district's data manager reads the run: the vendor is named, not "a staff member".
    with httpx.Client(base_url=world.url, timeout=30) as manager:
        assert staff_sign_in(manager, world.dm_springfield.email).status_code == 303
        run_page = manager.get(f"/admin/runs/{run_id}").text
    found = re.search(r'id="run-started-by">([^<]+)<', run_page)
    assert found and found.group(1) == "Pat Staff (vendor staff)", found


def test_the_audit_log_names_each_record_and_links_its_page(
    vendor: httpx.Client, world: AdminWorld, runs: Runs
) -> None:
    data = world.sandbox.districts[0].data
    planted = {p.sourced_id for p in data.planted} | {s for p in data.planted for s in p.related}
    student = next(
        u for u in data.users if u["role"] == "student" and u["sourcedId"] not in planted
    )
    name = f"{student['givenName']} {student['familyName']}"
    with world.service.engine.connect() as conn:
        portal_id = conn.execute(
            select(students.c.id).where(
                students.c.sourced_id == student["sourcedId"],
                students.c.district_id == world.sandbox.district_ids["springfield"],
            )
        ).scalar_one()
    # The first sync created the student: walk its entries until their creation.
    url: str | None = f"/admin/districts/springfield/audit?run={runs.first}"
    seen = []
    while url is not None:
        page = vendor.get(url).text
        seen.extend(rows_of(page))
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = html.unescape(found.group(1)) if found else None
    theirs = [r for r in seen if f">{name}</a>" in r]
    assert any("create" in r for r in theirs), theirs
    for row in theirs:
        assert f"/admin/districts/springfield/people/{student['sourcedId']}" in row
        assert student["sourcedId"] in row and portal_id not in row
    # Who made each change: the sync, in words and linked to its run, its actor id second.
    assert all(f'<a href="/admin/runs/{runs.first}">the sync of ' in r for r in theirs), theirs
    enrollment = next(r for r in seen if "enrollment" in r)
    assert re.search(r"<td>[^<>]+ in [^<>]+ <span class=\"hint\">enrollment", enrollment)
