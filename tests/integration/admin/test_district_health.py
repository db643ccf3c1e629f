"""A district at a glance, over real HTTP after real runs against the ClassLink simulator.

The district page says when a sync last succeeded and how long ago, when the schedule runs
next, the open errors and warnings, whether the roster looks stale, the last 30 runs as a chart
drawn on the server over a table of the same runs ("showing 30 of 33"), who gets the summary
emails (vendor staff change them; a data manager only reads them) and, for a district that
pushes files, the files it pushed. Each district's page says only its own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from tests.integration.admin.conftest import AdminWorld, form_csrf, staff_sign_in
from tests.integration.push.conftest import bundle_of, push_setup

from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.simulator import generate_district, mutations
from rostersync.store.tables import audit_log, sync_runs
from rostersync.web.run_chart import MARKS, SVG_NS

SVG = f"{{{SVG_NS}}}"
# Springfield's runs: the sandbox's sync and more, a refused key, a preview, a last sync.
RUNS = 33


@dataclass(frozen=True)
class History:
    """What the module's real runs left: ids the pages must show."""

    failed_run: str
    preview_run: str
    last_success: str
    pushed_bundle: str


def runs_in(world: AdminWorld, slug: str) -> int:
    with world.service.engine.connect() as conn:
        district_id = (
            world.sandbox.district_ids.get(slug) or world.service.districts.get(slug)[0].id
        )
        return int(
            conn.execute(
                select(func.count())
                .select_from(sync_runs)
                .where(sync_runs.c.district_id == district_id)
            ).scalar_one()
        )


@pytest.fixture(scope="module")
def history(world: AdminWorld) -> History:
    """Springfield: successful syncs, then a sync the roster server refuses, a preview and a
    last sync, RUNS runs in all; Shelbyville: a sync after a record changed today (its roster
    is fresh); Ogden: a push district that pushed one bundle over HTTP."""
    service, roster = world.service, world.sandbox.roster
    while runs_in(world, "springfield") < RUNS - 3:
        assert service.runs.sync("springfield", trigger="manual").status == "succeeded"
    tenant = roster.tenant("springfield")
    tenant.secret, secret = "not-the-secret", tenant.secret
    failed = service.runs.sync("springfield", trigger="manual")
    tenant.secret = secret
    assert failed.status == "failed", failed.error
    preview = service.runs.preview("springfield")
    assert preview.status == "previewed"
    last = service.runs.sync("springfield", trigger="manual")
    assert last.status == "succeeded", last.error
    assert runs_in(world, "springfield") == RUNS

    # Shelbyville's source changed a record today: its newest change is fresh.
    shelbyville = roster.tenant("shelbyville")
    someone = next(u["sourcedId"] for u in shelbyville.data.users if u["role"] == "student")
    shelbyville.data = mutations.edit_users(shelbyville.data, [someone], at=datetime.now(UTC)).data
    assert service.runs.sync("shelbyville", trigger="manual").status == "succeeded"

    # Ogden pushes its roster as a bundle, synced as it is queued.
    service.districts.add(push_setup("ogden"))
    key = service.push.issue_credentials("ogden", "ops@vendor.example")
    settings = service.settings
    service.push.use_queue(
        JobQueue(
            settings, huey=make_huey(settings, immediate=True), service=service, periodic=False
        )
    )
    bundle = bundle_of(generate_district(students=12, seed=21, tenant="ogden"))
    with httpx.Client(base_url=world.url, auth=httpx.BasicAuth(*key), timeout=60) as client:
        pushed = client.post(
            "/api/v1/districts/ogden/bundles",
            content=bundle,
            headers={"Content-Type": "application/zip"},
        )
    assert pushed.status_code == 202, pushed.text
    body = pushed.json()
    return History(
        failed_run=failed.run_id,
        preview_run=preview.run_id,
        last_success=last.run_id,
        pushed_bundle=body["id"],
    )


@pytest.fixture
def vendor(world: AdminWorld, history: History) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, world.vendor.email).status_code == 303
        yield client


@pytest.fixture
def manager(world: AdminWorld, history: History) -> Iterator[httpx.Client]:
    """Springfield's data manager."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, world.dm_springfield.email).status_code == 303
        yield client


def chart(page: str) -> ET.Element:
    """The page's run chart, parsed as XML (it must be well-formed)."""
    found = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert found, "the page has a chart"
    return ET.fromstring(found.group(0))  # noqa: S314 - the portal's own page, from loopback


def by_id(page: str, element_id: str) -> str:
    """The text of the element with this id (tags dropped, spaces folded)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|p|ul|table)>', page, re.S)
    assert found, element_id
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def audit_rows(world: AdminWorld, action: str) -> list[dict[str, object]]:
    with world.service.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.changes, audit_log.c.district_id).where(
                audit_log.c.action == action
            )
        )
        return [dict(r._mapping) for r in rows]


class TestAtAGlance:
    def test_the_last_successful_sync_links_its_run_and_says_its_age(
        self, vendor: httpx.Client, history: History
    ) -> None:
        page = vendor.get("/admin/districts/springfield").text
        said = by_id(page, "last-success")
        assert f'href="/admin/runs/{history.last_success}"' in page
        assert re.match(r"(just now|\d+ minutes? ago) \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)", said), (
            said
        )

    def test_the_next_scheduled_sync_is_the_schedules(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        info = world.service.districts.schedule("springfield")
        assert info.next_run_utc is not None
        said = by_id(vendor.get("/admin/districts/springfield").text, "next-sync")
        assert f"{info.next_run_utc:%Y-%m-%d %H:%M} UTC; {info.description}" in said
        assert said.startswith("in ")

    def test_open_errors_and_warnings_are_counted_and_link_the_issues_page(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        issues = world.service.runs.open_issues("springfield")
        errors = sum(1 for i in issues if i.severity == "error")
        warnings = len(issues) - errors
        assert errors > 0, "Springfield was generated with planted bad records"
        page = vendor.get("/admin/districts/springfield").text
        assert by_id(page, "open-errors") == f"{errors:,} error{'' if errors == 1 else 's'}"
        assert by_id(page, "open-warnings") == f"{warnings:,} warning{'' if warnings == 1 else 's'}"
        assert page.count('href="/admin/districts/springfield/issues"') >= 3

    def test_the_runs_list_states_how_many_it_shows_of_how_many(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        page = vendor.get("/admin/districts/springfield").text
        total = runs_in(world, "springfield")
        assert total == RUNS
        assert by_id(page, "runs-count") == f"Showing the newest 30 of {total} runs. All runs"
        rows = re.findall(r'<th scope="row"><a href="/admin/runs/([^"]+)">', page)
        assert rows == [r.id for r in world.service.runs.recent("springfield", limit=30)]


class TestRunChart:
    def test_the_chart_is_well_formed_with_one_bar_per_run_oldest_first(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        svg = chart(vendor.get("/admin/districts/springfield").text)
        newest = world.service.runs.recent("springfield", limit=30)
        groups = svg.findall(f".//{SVG}g[@data-run]")
        assert [g.get("data-run") for g in groups] == [r.id for r in reversed(newest)]
        for group in groups:
            assert len(group.findall(f"{SVG}rect[@class='bar duration']")) == 1
            assert len(group.findall(f"{SVG}rect[@class='bar changes']")) == 1

    def test_the_chart_has_a_title_and_says_it_is_an_image(self, vendor: httpx.Client) -> None:
        svg = chart(vendor.get("/admin/districts/springfield").text)
        assert svg.get("role") == "img"
        labels = (svg.get("aria-labelledby") or "").split()
        texts = {e.get("id"): (e.text or "") for e in svg if e.get("id")}
        assert [texts[label] for label in labels] == [
            "The last 30 runs: how long each took and how many records it changed",
            texts["run-chart-desc"],
        ]
        assert "1 failed" in texts["run-chart-desc"]

    def test_each_status_has_its_own_mark_and_words_not_colour_alone(
        self, vendor: httpx.Client, history: History
    ) -> None:
        svg = chart(vendor.get("/admin/districts/springfield").text)
        groups = {g.get("data-run"): g for g in svg.findall(f".//{SVG}g[@data-run]")}
        for run_id, status, words in (
            (history.failed_run, "failed", ": failed, took"),
            (history.preview_run, "previewed", ": previewed, took"),
        ):
            group = groups[run_id]
            mark = group.find(f"{SVG}text[@class='mark']")
            assert mark is not None and mark.text == MARKS[status][0]
            title = group.find(f"{SVG}title")
            assert title is not None and words in (title.text or "")
        assert len({m[0] for m in MARKS.values()}) == len(MARKS)


class TestStaleData:
    def test_a_roster_whose_newest_change_is_old_is_flagged(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        watermark = world.service.runs.delta_watermark("springfield")
        assert watermark is not None and watermark.moment is not None
        page = vendor.get("/admin/districts/springfield").text
        said = by_id(page, "stale-warning")
        assert f"is from {watermark.moment:%Y-%m-%d}" in said
        assert f"more than {world.service.settings.stale_after_days} days" in said
        health = world.service.districts.health("springfield")
        assert health.stale is not None and health.stale.source_quiet
        assert not health.stale.sync_overdue

    def test_a_roster_changed_today_is_not(self, vendor: httpx.Client, world: AdminWorld) -> None:
        page = vendor.get("/admin/districts/shelbyville").text
        assert 'id="stale-warning"' not in page
        assert world.service.districts.health("shelbyville").stale is None


class TestPushedFiles:
    def test_a_push_district_lists_the_files_it_pushed_with_their_state(
        self, vendor: httpx.Client, world: AdminWorld, history: History
    ) -> None:
        bundle = world.service.push.bundle("ogden", history.pushed_bundle)
        assert bundle.status == "succeeded" and bundle.run_id
        page = vendor.get("/admin/districts/ogden").text
        assert by_id(page, "pushed-count") == "1 file received."
        table = by_id(page, "pushed-table")
        assert f"{bundle.size:,} bytes" in table and bundle.sha256[:12] in table
        assert "succeeded" in table
        assert f'href="/admin/runs/{bundle.run_id}">its run' in page
        assert "not scheduled: it syncs when the district pushes a file" in by_id(page, "next-sync")

    def test_a_pulled_district_has_no_files_section(self, vendor: httpx.Client) -> None:
        assert 'id="pushed-files"' not in vendor.get("/admin/districts/springfield").text


class TestRecipients:
    def test_vendor_staff_change_them_and_the_change_is_audited_without_addresses(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        before = world.service.districts.get("shelbyville")[1].data_manager_emails
        page = vendor.get("/admin/districts/shelbyville").text
        typed = " Office@Shelbyville.example\nit@shelbyville.example, office@shelbyville.example"
        response = vendor.post(
            "/admin/districts/shelbyville/recipients",
            data={"csrf": form_csrf(page), "recipients": typed},
        )
        assert response.status_code == 303
        assert (
            response.headers["location"]
            == "/admin/districts/shelbyville?done=recipients#recipients"
        )
        after = ("office@shelbyville.example", "it@shelbyville.example")
        assert world.service.districts.get("shelbyville")[1].data_manager_emails == after
        shown = vendor.get(response.headers["location"]).text
        assert by_id(shown, "recipient-list") == " ".join(after)
        (row,) = audit_rows(world, "summary_recipients")
        assert row["actor"] == f"staff:{world.vendor.id}"
        assert row["district_id"] == world.sandbox.district_ids["shelbyville"]
        removed = len(set(before) - set(after))
        assert row["changes"] == {"added": 2, "removed": removed, "recipients": 2}
        assert "@" not in str(row["changes"])

    def test_an_address_that_is_not_one_is_refused_and_nothing_changes(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        before = world.service.districts.get("springfield")[1].data_manager_emails
        audited = len(audit_rows(world, "summary_recipients"))
        page = vendor.get("/admin/districts/springfield").text
        response = vendor.post(
            "/admin/districts/springfield/recipients",
            data={"csrf": form_csrf(page), "recipients": "ok@springfield.example\nnot-an-address"},
        )
        assert response.status_code == 400
        assert "1 of these is not an email address" in by_id(response.text, "recipients-error")
        assert "not-an-address" in response.text  # the form keeps what was typed
        assert world.service.districts.get("springfield")[1].data_manager_emails == before
        assert len(audit_rows(world, "summary_recipients")) == audited

    def test_a_data_manager_reads_them_but_cannot_change_them(
        self, manager: httpx.Client, world: AdminWorld
    ) -> None:
        before = world.service.districts.get("springfield")[1].data_manager_emails
        audited = len(audit_rows(world, "summary_recipients"))
        page = manager.get("/admin/districts/springfield").text
        assert by_id(page, "recipient-list") == (" ".join(before) or "Nobody: no summary is sent.")
        assert 'action="/admin/districts/springfield/recipients"' not in page
        response = manager.post(
            "/admin/districts/springfield/recipients",
            data={"csrf": form_csrf(page), "recipients": "me@springfield.example"},
        )
        # The same 404 page as a district that does not exist.
        assert response.status_code == 404
        assert "Not found" in response.text
        assert world.service.districts.get("springfield")[1].data_manager_emails == before
        assert len(audit_rows(world, "summary_recipients")) == audited

    def test_without_the_forms_token_vendor_staff_are_refused(
        self, vendor: httpx.Client, world: AdminWorld
    ) -> None:
        before = world.service.districts.get("springfield")[1].data_manager_emails
        response = vendor.post(
            "/admin/districts/springfield/recipients", data={"recipients": "x@springfield.example"}
        )
        assert response.status_code == 403 and "This form expired" in response.text
        assert world.service.districts.get("springfield")[1].data_manager_emails == before


def statements_for(world: AdminWorld, slug: str) -> int:
    """How many SQL statements reading one district's health takes."""
    seen: list[str] = []

    def count(*_args: Any) -> None:
        seen.append("x")

    engine = world.service.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        world.service.districts.health(slug)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


class TestSetBased:
    def test_the_query_count_does_not_grow_with_the_runs(
        self, world: AdminWorld, history: History
    ) -> None:
        # Shelbyville has 2 runs, Springfield 33: the same few statements read either.
        assert runs_in(world, "shelbyville") == 2
        few, many = statements_for(world, "shelbyville"), statements_for(world, "springfield")
        assert few == many <= 11, (few, many)


class TestScoping:
    def test_a_data_manager_sees_their_districts_health_and_no_other(
        self, manager: httpx.Client, world: AdminWorld
    ) -> None:
        page = manager.get("/admin/districts/springfield").text
        assert "Showing the newest 30 of" in page and 'id="stale-warning"' in page
        theirs = {r.id for r in world.service.runs.recent("shelbyville", limit=100)}
        assert not any(run_id in page for run_id in theirs)
        for slug in ("shelbyville", "ogden"):
            refused = manager.get(f"/admin/districts/{slug}")
            assert refused.status_code == 404, slug
            assert (
                manager.post(
                    f"/admin/districts/{slug}/recipients",
                    data={"csrf": form_csrf(page), "recipients": "x@example.org"},
                ).status_code
                == 404
            )

    def test_each_districts_figures_are_its_own(self, world: AdminWorld) -> None:
        ogden = world.service.districts.health("ogden")
        springfield = world.service.districts.health("springfield")
        assert ogden.runs_total == 1 and ogden.pushed_total == 1
        assert springfield.runs_total == RUNS and springfield.pushed_total == 0
        assert {r.district_id for r in springfield.runs} == {springfield.district_id}
        for slug, health in (("ogden", ogden), ("springfield", springfield)):
            issues = world.service.runs.open_issues(slug)
            errors = sum(1 for i in issues if i.severity == "error")
            assert (health.open_errors, health.open_warnings) == (errors, len(issues) - errors)
