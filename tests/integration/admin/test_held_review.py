"""A held sync reviewed on its run page: every record it would deactivate or change, by name,
paged by keyset without overlap or gap, searchable and downloadable in full (more than the 200
its plan's summary keeps); the threshold that tripped in plain words; Approve and Discard
confirmed with the counts. A run held before its changes were listed in full still shows what
its summary has, and says the list is partial."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select
from tests.integration import sandboxes
from tests.integration.admin.conftest import add_staff, form_csrf, staff_sign_in

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator.mutations import vanish
from rostersync.store.workflow_tables import plan_changes
from rostersync.web.held_review import CSV_COLUMNS

HOSTILE = '=HYPERLINK("http://evil.example","x")'
# More than the 200 sourcedIds per kind and outcome a plan's summary keeps.
STUDENTS, LEAVERS = 400, 230
OUTCOMES = ("created", "updated", "restored", "deactivated")


@dataclass
class HeldWorld:
    sandbox: Sandbox
    run_id: str
    leavers: dict[str, dict[str, Any]]

    @property
    def service(self) -> Any:
        return self.sandbox.service


@pytest.fixture(scope="module")
def held(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeldWorld]:
    """Springfield synced once, then served without LEAVERS students: its next sync is held."""
    settings = sandboxes.portal_settings(tmp_path_factory.mktemp("held"), databases.new())
    district = sandboxes.springfield(STUDENTS)
    students = [u for u in district.data.users if u["role"] == "student"]
    students[0]["givenName"] = HOSTILE
    leavers = {u["sourcedId"]: dict(u) for u in students[:LEAVERS]}
    with Sandbox(settings, [district]) as sandbox:
        add_staff(sandbox, "vendor@portal.example", "vendor_staff", None)
        assert sandbox.service is not None
        tenant = sandbox.roster.tenant("springfield")
        tenant.data = vanish(district.data, "users", list(leavers)).data
        report = sandbox.service.runs.sync("springfield")
        assert report.status == "held", report
        yield HeldWorld(sandbox, report.run_id, leavers)


@pytest.fixture
def vendor(held: HeldWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=held.sandbox.url, timeout=30) as client:
        assert staff_sign_in(client, "vendor@portal.example").status_code == 303
        yield client


def full_name(user: dict[str, Any]) -> str:
    return f"{user['givenName']} {user['familyName']}".strip()


def rows_of(page: str) -> list[tuple[str, str]]:
    """The (change, ClassLink id) of each row of the page's list."""
    table = re.search(r'<table id="changes-table">(.*?)</table>', page, re.S)
    assert table, page
    return re.findall(r"<tr><td>(\w+)</td>.*?<code>([^<]+)</code></td></tr>", table.group(1))


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)#changes" rel="next">', page)
    return found.group(1).replace("&amp;", "&") if found else None


def walk(client: httpx.Client, url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Every row of a list, following its Next links; and each page's "Showing" words."""
    rows: list[tuple[str, str]] = []
    shown: list[str] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        rows += rows_of(response.text)
        showing = re.search(r'<p id="changes-showing" role="status">([^<]*)', response.text)
        assert showing, response.text
        shown.append(showing.group(1).strip())
        next_url = next_link(response.text)
        assert len(shown) < 100, "the Next links never end"
    return rows, shown


def counted(world: HeldWorld, action: str = "") -> int:
    """How many changes the plan's summary counts (its counts are always whole)."""
    kinds = world.service.runs.plan(world.run_id).summary["kinds"]
    return sum(
        kinds[kind][outcome]["count"]
        for kind in kinds
        for outcome in OUTCOMES
        if not action or outcome.startswith(action[:-1])
    )


def listed_rows(world: HeldWorld) -> int:
    with world.service.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(plan_changes.c.run_id == world.run_id)
            ).scalar_one()
        )


class TestTheHeldRunPage:
    def test_it_lists_every_deactivation_fifty_at_a_time_without_overlap_or_gap(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        deactivations = counted(held, "deactivate")
        assert deactivations > LEAVERS > 200
        rows, shown = walk(vendor, f"/admin/runs/{held.run_id}?action=deactivate")
        assert shown[0] == f"Showing 1–50 of {deactivations:,} matching “deactivate”."
        for n, words in enumerate(shown[:-1]):
            assert words.startswith(f"Showing {50 * n + 1:,}–{50 * n + 50:,} of {deactivations:,}")
        assert len(rows) == deactivations and len(set(rows)) == len(rows)
        assert {change for change, _sid in rows} == {"Deactivate"}
        # Students first, in ClassLink id order: every leaver, past the summary's 200.
        students = [sid for _change, sid in rows[:LEAVERS]]
        assert students == sorted(held.leavers)
        every = vendor.get(f"/admin/runs/{held.run_id}").text
        assert f"Showing 1–50 of {counted(held):,}." in every
        assert 'id="changes-listed"' not in every  # nothing is left out

    def test_each_record_is_named_with_its_role_student_id_and_school(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get(f"/admin/runs/{held.run_id}").text
        first = sorted(held.leavers)[0]
        user = held.leavers[first]
        row = re.search(rf"<tr><td>Deactivate</td>.*?<code>{first}</code></td></tr>", page)
        assert row, page
        assert ">student<" in row.group(0)
        if user["givenName"] != HOSTILE:
            assert full_name(user) in row.group(0)
        if user.get("identifier"):
            assert f">{user['identifier']}<" in row.group(0)

    def test_it_says_which_threshold_tripped_in_plain_words(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get(f"/admin/runs/{held.run_id}").text
        assert re.search(
            rf"{LEAVERS} of the [\d,]+ active students \(\d+%\) would be deactivated; a sync that "
            r"deactivates more than \d+% of them waits for a person to approve it\.",
            page,
        ), page

    def test_the_search_finds_a_leaver_past_the_first_200_by_name_student_id_or_classlink_id(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        named = [(s, u) for s, u in sorted(held.leavers.items()) if u["givenName"] != HOSTILE]
        sourced_id, user = named[-1]  # the summary kept only the first 200
        assert sorted(held.leavers).index(sourced_id) >= 200
        by_id = vendor.get(f"/admin/runs/{held.run_id}", params={"q": sourced_id}).text
        assert "Showing all 1 matching" in by_id or "Showing 1–1 of 1 matching" in by_id
        assert full_name(user) in by_id
        by_name = vendor.get(
            f"/admin/runs/{held.run_id}", params={"q": user["familyName"], "action": "deactivate"}
        ).text
        assert full_name(user) in by_name and f"<code>{sourced_id}</code>" in by_name
        shown = re.search(r"Showing 1–(\d+) of (\d+)", by_name)
        assert shown and int(shown.group(2)) < counted(held, "deactivate")
        if user.get("identifier"):
            by_student_id = vendor.get(
                f"/admin/runs/{held.run_id}", params={"q": user["identifier"].upper()}
            ).text
            assert f"<code>{sourced_id}</code>" in by_student_id
        nobody = vendor.get(f"/admin/runs/{held.run_id}", params={"q": "no such person zz"}).text
        assert "No records matching" in nobody
        wild = vendor.get(f"/admin/runs/{held.run_id}", params={"q": "%"}).text
        assert "No records matching" in wild  # a LIKE wildcard is searched for as itself

    def test_a_search_pages_without_overlap_or_gap(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        # A hundred leavers' ClassLink ids start so: two pages of them.
        prefix = "stu-0001"
        wanted = sorted(sid for sid in held.leavers if sid.startswith(prefix))
        assert len(wanted) > 50
        rows, shown = walk(vendor, f"/admin/runs/{held.run_id}?q={prefix}&action=deactivate")
        assert shown[0].startswith(f"Showing 1–50 of {len(wanted)} matching")
        assert shown[1].startswith(f"Showing 51–{len(wanted)} of {len(wanted)} matching")
        assert [sid for _change, sid in rows] == wanted

    def test_the_action_filter_keeps_only_that_change(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get(f"/admin/runs/{held.run_id}", params={"action": "create"}).text
        assert "<tr><td>Deactivate</td>" not in page

    def test_a_broken_page_link_says_so_and_links_the_first_page(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        response = vendor.get(f"/admin/runs/{held.run_id}", params={"cursor": "not-a-cursor"})
        assert response.status_code == 400
        assert f"/admin/runs/{held.run_id}" in response.text

    def test_the_download_has_every_record_by_name_and_is_neutralised(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        response = vendor.get(
            f"/admin/runs/{held.run_id}/changes.csv", params={"action": "deactivate"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")
        header = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
        assert header == list(CSV_COLUMNS)
        assert header[0] == "name" and header.index("classlink_id") > header.index("school")
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        assert len(rows) == counted(held, "deactivate")
        students = {r["classlink_id"]: r for r in rows if r["kind"] == "student"}
        assert set(students) == set(held.leavers)
        hostile_id = next(s for s, u in held.leavers.items() if u["givenName"] == HOSTILE)
        assert students[hostile_id]["name"].startswith("'=HYPERLINK(")
        sid, user = next((s, u) for s, u in held.leavers.items() if u["givenName"] != HOSTILE)
        assert students[sid]["name"] == full_name(user)
        assert students[sid]["role"] == "student"
        assert all(r["action"] == "deactivate" for r in rows)
        everything = vendor.get(f"/admin/runs/{held.run_id}/changes.csv").text
        assert len(everything.splitlines()) == 1 + counted(held)


class TestARunHeldBeforeItsChangesWereListed:
    """Its plan's summary (200 of each kind and change) is all there is: the page says so."""

    def test_the_page_lists_what_the_summary_has_and_says_the_list_is_partial(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        engine = held.service.engine
        with engine.connect() as conn:
            kept = [
                dict(r._mapping)
                for r in conn.execute(
                    select(plan_changes).where(plan_changes.c.run_id == held.run_id)
                )
            ]
        assert kept
        with engine.begin() as conn:
            conn.execute(plan_changes.delete().where(plan_changes.c.run_id == held.run_id))
        try:
            page = vendor.get(f"/admin/runs/{held.run_id}", params={"action": "deactivate"})
            assert page.status_code == 200
            listed = re.search(
                r'<p class="hint" id="changes-listed">This list is partial: .*? so ([\d,]+) of '
                r"its ([\d,]+) changes to deactivate are listed",
                page.text,
            )
            assert listed, page.text
            assert int(listed.group(2).replace(",", "")) == counted(held, "deactivate")
            assert int(listed.group(1).replace(",", "")) < int(listed.group(2).replace(",", ""))
            assert "discard this run and sync again" in page.text
            rows, _shown = walk(vendor, f"/admin/runs/{held.run_id}?action=deactivate")
            students = [sid for _c, sid in rows if sid in held.leavers]
            assert students == sorted(held.leavers)[:200]
            download = vendor.get(
                f"/admin/runs/{held.run_id}/changes.csv", params={"action": "deactivate"}
            )
            assert len(download.text.splitlines()) == 1 + len(rows)
        finally:
            with engine.begin() as conn:
                conn.execute(insert(plan_changes), kept)
        assert listed_rows(held) == len(kept)


class TestConfirmingTheDecision:
    def test_approve_and_discard_first_show_the_counts(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get(f"/admin/runs/{held.run_id}").text
        assert f'<form method="get" action="/admin/runs/{held.run_id}/approve">' in page
        confirm = vendor.get(f"/admin/runs/{held.run_id}/approve").text
        assert re.search(rf"Approve: deactivate {LEAVERS} students and [\d,]+ enrollments", confirm)
        assert 'name="confirm" value="yes"' in confirm
        discard = vendor.get(f"/admin/runs/{held.run_id}/discard").text
        assert f"the plan to deactivate {LEAVERS} students" in discard

    def test_a_decision_without_the_confirmation_goes_to_the_confirmation(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        csrf = form_csrf(vendor.get(f"/admin/runs/{held.run_id}/approve").text)
        for decision in ("approve", "discard"):
            response = vendor.post(f"/admin/runs/{held.run_id}/{decision}", data={"csrf": csrf})
            assert response.status_code == 303
            assert response.headers["location"] == f"/admin/runs/{held.run_id}/{decision}"
        assert held.service.runs.get(held.run_id).status == "held"

    def test_the_confirmed_approval_applies_the_plan(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        csrf = form_csrf(vendor.get(f"/admin/runs/{held.run_id}/approve").text)
        response = vendor.post(
            f"/admin/runs/{held.run_id}/approve", data={"csrf": csrf, "confirm": "yes"}
        )
        assert response.status_code == 303, response.text
        applied = response.headers["location"].split("/")[-1].split("?")[0]
        assert held.service.runs.get(applied).status == "succeeded"
        assert held.service.runs.get(held.run_id).status == "approved"
        assert listed_rows(held) == 0  # listed for the decision only
        gone = vendor.get(f"/admin/runs/{held.run_id}/approve")
        assert gone.status_code == 409 and "nothing left to approve" in gone.text
