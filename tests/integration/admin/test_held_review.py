"""A held sync reviewed on its run page: who it would deactivate, by name, paged, searchable and
downloadable; the threshold that tripped in plain words; Approve and Discard confirmed with the
counts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.integration import sandboxes
from tests.integration.admin.conftest import add_staff, form_csrf, staff_sign_in

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator.mutations import vanish
from rostersync.web.held_review import plan_changes

HOSTILE = '=HYPERLINK("http://evil.example","x")'
LEAVERS = 60


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
    district = sandboxes.springfield(150)
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


def rows_of(page: str) -> list[str]:
    table = re.search(r'<table id="changes-table">(.*?)</table>', page, re.S)
    assert table, page
    return re.findall(r"<tr><td>", table.group(1))


class TestTheHeldRunPage:
    def test_it_names_the_students_it_would_deactivate_fifty_at_a_time(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get(f"/admin/runs/{held.run_id}").text
        plan = held.service.runs.plan(held.run_id)
        deactivated = plan.summary["kinds"]["student"]["deactivated"]["count"]
        assert deactivated == LEAVERS
        total = len(plan_changes(plan))
        assert total > 50
        assert f"Showing 1–50 of {total:,}" in page
        # The summary keeps 200 sourcedIds per kind and outcome; the page says what is left out.
        kinds = plan.summary["kinds"]
        every_change = sum(
            kinds[kind][outcome]["count"]
            for kind in kinds
            for outcome in ("created", "updated", "restored", "deactivated")
        )
        assert every_change > total  # 360 enrollments leave with the students
        assert f"{total:,} of its {every_change:,} changes are listed" in page
        assert len(rows_of(page)) == 50
        # Students come first, each by name, role, student ID and school, then ClassLink id.
        first = sorted(held.leavers)[0]
        user = held.leavers[first]
        row = re.search(rf"<tr><td>Deactivate</td>.*?<code>{first}</code></td></tr>", page)
        assert row, page
        assert ">student<" in row.group(0)
        if user.get("identifier"):
            assert f">{user['identifier']}<" in row.group(0)
        second = vendor.get(f"/admin/runs/{held.run_id}?page=2").text
        assert f"Showing 51–{min(100, total):,} of {total:,}" in second
        every = page + second
        named = [u for u in held.leavers.values() if u["givenName"] != HOSTILE]
        assert sum(full_name(u) in every for u in named) >= 49

    def test_it_says_which_threshold_tripped_in_plain_words(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get(f"/admin/runs/{held.run_id}").text
        assert re.search(
            rf"{LEAVERS} of the [\d,]+ active students \(\d+%\) would be deactivated; a sync that "
            r"deactivates more than \d+% of them waits for a person to approve it\.",
            page,
        ), page

    def test_the_search_narrows_to_a_name_a_student_id_or_a_classlink_id(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        sourced_id, user = sorted(held.leavers.items())[5]
        by_id = vendor.get(f"/admin/runs/{held.run_id}", params={"q": sourced_id}).text
        assert "Showing 1–1 of 1 matching" in by_id
        assert full_name(user) in by_id
        by_name = vendor.get(
            f"/admin/runs/{held.run_id}", params={"q": user["familyName"], "action": "deactivate"}
        ).text
        assert full_name(user) in by_name and f"<code>{sourced_id}</code>" in by_name
        shown = re.search(r"Showing 1–(\d+) of (\d+)", by_name)
        assert shown and int(shown.group(2)) < LEAVERS * 2
        nobody = vendor.get(f"/admin/runs/{held.run_id}", params={"q": "no such person zz"}).text
        assert "No records matching" in nobody

    def test_the_action_filter_keeps_only_that_change(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        page = vendor.get(f"/admin/runs/{held.run_id}", params={"action": "create"}).text
        assert "<tr><td>Deactivate</td>" not in page

    def test_the_download_has_the_names_and_is_neutralised(
        self, held: HeldWorld, vendor: httpx.Client
    ) -> None:
        response = vendor.get(
            f"/admin/runs/{held.run_id}/changes.csv", params={"action": "deactivate"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        students = {r["classlink_id"]: r for r in rows if r["kind"] == "student"}
        assert set(students) == set(held.leavers)
        hostile_id = next(s for s, u in held.leavers.items() if u["givenName"] == HOSTILE)
        assert students[hostile_id]["name"].startswith("'=HYPERLINK(")
        sid, user = next((s, u) for s, u in held.leavers.items() if u["givenName"] != HOSTILE)
        assert students[sid]["name"] == full_name(user)
        assert students[sid]["role"] == "student"
        assert all(r["action"] == "deactivate" for r in rows)


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
        gone = vendor.get(f"/admin/runs/{held.run_id}/approve")
        assert gone.status_code == 409 and "nothing left to approve" in gone.text
