"""Delta syncs end to end: the simulator over real HTTP into SQLite and PostgreSQL.

A full sync sets the watermark; a mutation stamps what it touches; a delta then pulls only those
records and applies exactly them. A full sync afterwards proves nothing was missed or invented:
its only changes are the removals a delta may not infer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.integration import springfield

from rostersync.domain.safeguards import Safeguards, Threshold
from rostersync.errors import FullSyncRequired
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, generate_district, mutations
from rostersync.simulator.district import COLLECTIONS
from rostersync.simulator.faults import server_error
from rostersync.store import tables
from rostersync.sync import events
from rostersync.sync.sources import OneRosterRestSource

KEY, SECRET = "delta-key", "delta-secret-4Kp"
STUDENTS = 200
# After every generated stamp (the generator's span ends 2026-08-30).
AT = "2026-09-01T12:00:00Z"


@pytest.fixture(scope="module")
def district_data() -> DistrictData:
    return generate_district(students=STUDENTS, seed=23)


@pytest.fixture
def server(district_data: DistrictData) -> Iterator[SimulatorServer]:
    with springfield.serve(district_data, KEY, SECRET) as srv:
        yield srv


def onboard(portal: Services, server: SimulatorServer) -> None:
    springfield.onboard(
        portal,
        server,
        key=KEY,
        secret=SECRET,
        **springfield.LISTED_WITH_METADATA,
    )


def impatient(server: SimulatorServer) -> OneRosterRestSource:
    """The district's source with retries that give up in milliseconds."""
    return OneRosterRestSource(
        server.base_url("springfield"),
        KEY,
        SECRET,
        max_retries=1,
        backoff_base=0.001,
        backoff_cap=0.01,
    )


def students_of(data: DistrictData) -> list[dict[str, Any]]:
    return [u for u in data.users if u["role"] == "student"]


@dataclass(frozen=True)
class Scenario:
    """One round of change: the mutated district and who was touched how."""

    data: DistrictData
    change: mutations.Change
    moved: str
    deleted: str
    vanished: str


def mutate(data: DistrictData) -> Scenario:
    """Edits, adds, a move between schools, one `tobedeleted` student, one that vanishes."""
    students = students_of(data)
    teacher = next(u for u in data.users if u["role"] == "teacher")
    school_of = {s["sourcedId"]: s["orgs"][0]["sourcedId"] for s in students}
    # A student moves up to another school, into a grade that school teaches.
    moved = students[0]["sourcedId"]
    target = next(c for c in data.classes if c["school"]["sourcedId"] != school_of[moved])
    to_school, grade = target["school"]["sourcedId"], target["grades"][0]
    others = [s["sourcedId"] for s in students if s["sourcedId"] != moved]
    edited, deleted, vanished = others[:2], others[2], others[3]

    step = mutations.edit_users(data, [*edited, teacher["sourcedId"]], at=AT)
    change = step.change
    for apply in (
        lambda d: mutations.add_students(d, 2, at=AT, seed=4),
        lambda d: mutations.move_students(d, [moved], to_school=to_school, at=AT, grade=grade),
        lambda d: mutations.mark_tobedeleted(d, "users", [deleted], at=AT),
        lambda d: mutations.vanish(d, "users", [vanished]),
    ):
        step = apply(step.data)
        change += step.change
    return Scenario(step.data, change, moved, deleted, vanished)


def synced_then_mutated(portal: Services, server: SimulatorServer, data: DistrictData) -> None:
    """The district onboarded and fully synced, then mutated at the source (`mutate`)."""
    onboard(portal, server)
    assert portal.runs.sync("springfield").status == "succeeded"
    server.tenant("springfield").data = mutate(data).data


def newest_stamp(data: DistrictData) -> str:
    return max(str(r["dateLastModified"]) for c in COLLECTIONS for r in data.collection(c))


def watermark(portal: Services) -> str | None:
    mark = portal.runs.delta_watermark("springfield")
    assert mark is not None
    return mark.watermark


def active_by_sid(portal: Services, table: Any) -> dict[str, bool]:
    with portal.engine.connect() as conn:
        return {
            r.sourced_id: r.active for r in conn.execute(select(table.c.sourced_id, table.c.active))
        }


def snapshot(portal: Services) -> dict[str, Any]:
    """Every roster row's content hash and active flag, and the audit log's length."""
    with portal.engine.connect() as conn:
        rows = {
            kind: {
                tuple(row)
                for row in conn.execute(
                    select(table.c.sourced_id, table.c.content_hash, table.c.active)
                )
            }
            for kind, table in tables.ROSTER_TABLES.items()
        }
        audits = conn.execute(select(func.count()).select_from(tables.audit_log)).scalar()
    return {"rows": rows, "audits": audits}


class TestWatermark:
    """A full sync sets the watermark; a delta before any full sync is refused."""

    def test_a_delta_before_any_full_sync_is_refused_and_records_no_run(
        self, portal: Services, server: SimulatorServer
    ) -> None:
        onboard(portal, server)
        with pytest.raises(FullSyncRequired, match="run a full sync first"):
            portal.runs.delta("springfield")
        assert portal.runs.recent("springfield") == []
        assert portal.runs.delta_watermark("springfield") is None

    def test_a_full_sync_sets_the_watermark_to_the_newest_stamp_it_pulled(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        assert portal.runs.sync("springfield").status == "succeeded"
        mark = portal.runs.delta_watermark("springfield")
        assert mark is not None and mark.last_full_sync_at is not None
        assert mark.watermark == newest_stamp(district_data)


class TestDeltaAppliesExactlyTheMutation:
    """After a full sync, a delta creates, updates and deactivates exactly what was mutated."""

    def test_delta_applies_the_mutation_and_nothing_else(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        full = portal.runs.sync("springfield")
        assert full.status == "succeeded", full.error
        scenario = mutate(district_data)
        change = scenario.change
        server.tenant("springfield").data = scenario.data

        report = portal.runs.delta("springfield")

        assert report.status == "succeeded", report.error
        c = report.counts
        assert c["student"]["created"] == change.count("created", "users", role="student") == 2
        # Two edited and one moved student; the teacher's name edit.
        assert c["student"]["updated"] == change.count("updated", "users", role="student") == 3
        assert c["educator"]["updated"] == change.count("updated", "users", role="teacher") == 1
        assert c["student"]["deactivated"] == change.count("deleted", "users") == 1
        assert c["enrollment"]["created"] == change.count("created", "enrollments") > 0
        # No inference from absence: the vanished student and vanished enrollments stay.
        assert c["enrollment"]["deactivated"] == 0
        for kind in ("org", "academicSession", "course", "class"):
            assert c[kind]["created"] + c[kind]["updated"] + c[kind]["deactivated"] == 0, kind
        assert all(counts["restored"] == 0 for counts in c.values())
        assert report.errors == []

        students = active_by_sid(portal, tables.students)
        assert students[scenario.deleted] is False
        assert students[scenario.vanished] is True
        # The filter was honoured: a few dozen records, not the whole district.
        pulled = sum(report.records_pulled.values())
        whole = sum(len(scenario.data.collection(name)) for name in COLLECTIONS)
        assert 0 < pulled < whole / 20
        assert watermark(portal) == AT

        # A full sync now finds only what a delta may never infer: the vanished records.
        reconcile = portal.runs.sync("springfield")
        assert reconcile.status == "succeeded", reconcile.error
        gone_enrollments = change.count("vanished", "enrollments")
        assert reconcile.counts["student"]["deactivated"] == 1
        assert reconcile.counts["enrollment"]["deactivated"] == gone_enrollments
        assert reconcile.change_count == 1 + gone_enrollments

    def test_a_second_delta_rereads_the_overlap_and_changes_nothing(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        synced_then_mutated(portal, server, district_data)
        assert portal.runs.delta("springfield").status == "succeeded"
        before = snapshot(portal)

        again = portal.runs.delta("springfield")

        assert again.status == "succeeded"
        # The overlap window re-read the mutated records; their hashes match, so no updates.
        assert sum(again.records_pulled.values()) > 0
        assert again.change_count == 0
        assert snapshot(portal) == before
        assert watermark(portal) == AT


class TestDeltaProgress:
    """A delta run records its progress for the run page, as a full sync does."""

    def test_a_delta_records_what_it_pulled_and_ends_done(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        synced_then_mutated(portal, server, district_data)
        heard: list[tuple[str, int]] = []

        report = portal.runs.delta(
            "springfield", observers=[events.counting(lambda c, n: heard.append((c, n)))]
        )

        assert report.status == "succeeded", report.error
        progress = portal.runs.progress(report.run_id)
        assert progress is not None and progress.phase == "done"
        assert progress.records == report.records_pulled
        assert progress.total == sum(report.records_pulled.values()) > 0
        # The caller's own callback still hears every collection's count, last the whole one.
        assert dict(heard) == report.records_pulled


class TestWatermarkStaysOnFailure:
    """A delta that fails or is held leaves the watermark, and the portal, where they were."""

    def test_a_failed_pull_leaves_the_watermark_and_a_later_delta_catches_up(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        portal.runs.sync("springfield")
        mark = watermark(portal)
        scenario = mutate(district_data)
        server.tenant("springfield").data = scenario.data
        before = snapshot(portal)
        server.set_faults("springfield", server_error(500, times=50, collection="users"))

        failed = portal.runs.delta("springfield", source=impatient(server))

        assert failed.status == "failed"
        assert failed.error
        assert watermark(portal) == mark
        assert snapshot(portal) == before

        server.set_faults("springfield")
        caught_up = portal.runs.delta("springfield", source=impatient(server))
        assert caught_up.status == "succeeded", caught_up.error
        assert caught_up.counts["student"]["created"] == 2
        assert watermark(portal) == AT

    def test_a_held_delta_leaves_the_watermark(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        portal.runs.sync("springfield")
        mark = watermark(portal)
        portal.districts.set_workflow_settings(
            "springfield",
            safeguards=Safeguards(per_kind={"student": Threshold(max_deactivations=0)}),
        )
        server.tenant("springfield").data = mutate(district_data).data

        held = portal.runs.delta("springfield")

        assert held.status == "held"
        assert held.reason and "deactivations" in held.reason
        assert watermark(portal) == mark
