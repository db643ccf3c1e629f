"""Held runs, pause windows, revalidation closing fixed issues, and going live."""

from __future__ import annotations

import copy
import re
from datetime import date, timedelta

from sqlalchemy import select
from tests.integration.workflow.conftest import onboard, without_users

from rostersync.domain.safeguards import PauseWindow, Safeguards, Threshold
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer
from rostersync.store import tables


def roster_snapshot(portal: Services) -> dict[str, list[tuple[object, ...]]]:
    with portal.engine.connect() as conn:
        return {
            name: sorted(
                tuple(row)
                for row in conn.execute(
                    select(table.c.id, table.c.active, table.c.updated_at, table.c.content_hash)
                )
            )
            for name, table in (("students", tables.students), ("enrollments", tables.enrollments))
        }


def student_ids(portal: Services) -> dict[str, tuple[str, bool]]:
    with portal.engine.connect() as conn:
        rows = conn.execute(
            select(tables.students.c.sourced_id, tables.students.c.id, tables.students.c.active)
        ).all()
    return {r.sourced_id: (r.id, r.active) for r in rows}


def drop_forty_percent(server: SimulatorServer, data: DistrictData) -> set[str]:
    students = [u["sourcedId"] for u in data.users if u["role"] == "student"]
    leavers = set(students[: len(students) * 2 // 5])
    server.tenant("springfield").data = without_users(data, leavers)
    return leavers


class TestHeldRuns:
    """A plan over the thresholds writes nothing until a person approves or discards it."""

    def test_forty_percent_leaving_is_held_and_approval_applies_it(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        portal.runs.sync("springfield")
        first_ids = student_ids(portal)
        before = roster_snapshot(portal)
        leavers = drop_forty_percent(server, district_data)

        held = portal.runs.sync("springfield")
        assert held.status == "held"
        assert held.reason is not None and held.reason.startswith("students: ")
        assert re.match(
            r"students: \d+ deactivations is 3\d% of \d+ active \(limit 10%\)", held.reason
        )
        assert roster_snapshot(portal) == before
        assert portal.runs.get(held.run_id).status == "held"
        assert portal.runs.plan(held.run_id).held_reason == held.reason

        applied = portal.runs.approve(held.run_id, "support")
        assert applied.status == "succeeded"
        gone = applied.counts["student"]["deactivated"]
        assert gone == held.counts["student"]["deactivated"] > 0
        provisioned = {sid for sid, (_, active) in first_ids.items() if active}
        assert gone == len(leavers & provisioned)
        assert portal.districts.counts("springfield")["students"]["inactive"] == gone
        assert portal.runs.get(held.run_id).status == "approved"
        after = student_ids(portal)
        # Nobody is deleted: every account keeps its id, the leavers deactivated.
        assert all(after[sid][0] == account for sid, (account, _) in first_ids.items())

    def test_discarding_a_held_run_leaves_the_portal_unchanged(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        portal.runs.sync("springfield")
        before = roster_snapshot(portal)
        drop_forty_percent(server, district_data)
        held = portal.runs.sync("springfield")
        discarded = portal.runs.discard(held.run_id, "support")
        assert discarded.status == "discarded"
        assert roster_snapshot(portal) == before
        with portal.engine.connect() as conn:
            actions = [
                a
                for (a,) in conn.execute(
                    select(tables.audit_log.c.action).where(
                        tables.audit_log.c.run_id == held.run_id
                    )
                )
            ]
        assert sorted(actions) == ["discard", "hold"]

    def test_a_district_with_a_higher_limit_applies_the_same_plan(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        portal.runs.sync("springfield")
        portal.districts.set_workflow_settings(
            "springfield",
            safeguards=Safeguards(default=Threshold(max_deactivation_ratio=0.5)),
        )
        drop_forty_percent(server, district_data)
        assert portal.runs.sync("springfield").status == "succeeded"


class TestPauseWindow:
    """A scheduled sync inside the pause window is skipped; a manual one runs."""

    def test_scheduled_is_skipped_and_manual_runs(
        self, portal: Services, server: SimulatorServer
    ) -> None:
        onboard(portal, server)
        today = date.today()
        window = PauseWindow(start=today - timedelta(days=2), end=today + timedelta(days=2))
        portal.districts.set_workflow_settings("springfield", pause=window)
        skipped = portal.runs.sync("springfield", trigger="scheduled")
        assert skipped.status == "skipped" and skipped.reason and "paused" in skipped.reason
        assert portal.districts.counts("springfield")["students"]["active"] == 0
        assert portal.runs.sync("springfield", trigger="manual").status == "succeeded"


class TestRevalidation:
    """Revalidation provisions a fixed record and closes its issue; the rest stay open once."""

    def test_fixed_record_is_provisioned_and_its_issue_closes(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        first = portal.runs.sync("springfield")
        missing = next(p for p in district_data.planted if p.problem == "missing_grade")
        open_before = portal.runs.open_issues("springfield")
        assert missing.sourced_id in {i.sourced_id for i in open_before}
        assert portal.runs.open_issues("springfield", kind="student")

        fixed = copy.deepcopy(district_data)
        next(u for u in fixed.users if u["sourcedId"] == missing.sourced_id)["grades"] = ["04"]
        server.tenant("springfield").data = fixed
        report = portal.runs.revalidate("springfield")
        assert portal.runs.get(report.run_id).trigger == "revalidate"
        assert report.counts["student"]["created"] == 1

        open_after = portal.runs.open_issues("springfield")
        assert missing.sourced_id not in {i.sourced_id for i in open_after}
        # The others stay open, not duplicated, still dated from the first run.
        assert len(open_after) == len(open_before) - 1
        assert {i.run_id for i in open_after} == {first.run_id}
        with portal.engine.connect() as conn:
            closed = conn.execute(
                select(
                    tables.validation_issues.c.status, tables.validation_issues.c.closed_by_run
                ).where(tables.validation_issues.c.sourced_id == missing.sourced_id)
            ).one()
            seen = conn.execute(
                select(tables.validation_issues.c.last_seen_run).where(
                    tables.validation_issues.c.status == "open"
                )
            ).scalars()
            assert set(seen) == {report.run_id}
        assert tuple(closed) == ("closed", report.run_id)


class TestGoLive:
    """Accounts are provisioned before go-live, but nobody signs in until the district is live."""

    def test_sync_before_go_live_provisions_and_sign_in_waits(
        self, portal: Services, server: SimulatorServer
    ) -> None:
        onboard(portal, server, go_live_date=date(2026, 8, 17))
        assert portal.runs.sync("springfield").status == "succeeded"
        assert portal.districts.counts("springfield")["students"]["active"] > 0
        assert not portal.districts.can_sign_in("springfield")
        assert portal.districts.go_live_due(date(2026, 8, 16)) == []
        assert portal.districts.go_live_due(date(2026, 8, 17)) == ["springfield"]
        assert portal.districts.can_sign_in("springfield")
        assert portal.districts.go_live_due(date(2026, 8, 18)) == []

    def test_staff_can_make_a_district_live_early_and_it_is_audited(
        self, portal: Services, server: SimulatorServer
    ) -> None:
        onboard(portal, server)
        assert portal.districts.set_live("springfield", "support@vendor.example").status == "live"
        assert portal.districts.can_sign_in("springfield")
        with portal.engine.connect() as conn:
            row = conn.execute(
                select(tables.audit_log.c.actor, tables.audit_log.c.entity_type).where(
                    tables.audit_log.c.action == "go_live"
                )
            ).one()
        assert tuple(row) == ("support@vendor.example", "district")
