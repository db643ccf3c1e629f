"""ClassLink's quirks give the same portal as a plain server, and a mutation between two syncs
is reflected exactly: created, updated, deactivated and restored as the mutation describes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.faults.conftest import KEY, SECRET, TENANT, make_portal, onboard, sync
from tests.integration.portal_state import snapshot

from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district
from rostersync.simulator import mutations as m
from rostersync.simulator.quirks import with_odd_sourced_ids
from rostersync.sync.pipeline import SyncReport

AT = "2026-09-01T12:00:00Z"


@pytest.fixture(scope="module")
def odd_district() -> DistrictData:
    """Odd sourcedIds, and a few records already marked tobedeleted (served as `inactive`)."""
    data = with_odd_sourced_ids(generate_district(students=60, seed=31, bad_records=True))
    staff = [u["sourcedId"] for u in data.users if u["role"] == "aide"][:3]
    return m.mark_tobedeleted(data, "users", staff, at=AT).data


def synced_portal(directory: Path, data: DistrictData, *, quirks: bool) -> Services:
    portal = make_portal(f"sqlite:///{directory / f'quirks-{quirks}.db'}", directory)
    with SimulatorServer([Tenant(TENANT, data, KEY, SECRET, quirks=quirks)]) as server:
        onboard(portal, server.base_url(TENANT))
        report = sync(portal, server)
    assert report.status == "succeeded", report.error
    return portal


class TestClassLinkQuirks:
    """Quirky answers (odd ids, JSON booleans, lower-case headers, foreign hrefs) change nothing."""

    def test_the_portal_is_the_same_with_quirks_on_and_off(
        self, tmp_path: Path, odd_district: DistrictData
    ) -> None:
        plain = synced_portal(tmp_path, odd_district, quirks=False)
        quirky = synced_portal(tmp_path, odd_district, quirks=True)
        try:
            contents = snapshot(quirky)
            assert contents == snapshot(plain)
            assert any(" " in sid for sid in contents["students"])
            assert any("/" in sid for sid in contents["students"])
            # The aides marked tobedeleted (some served as `inactive`) were never provisioned.
            aides = {u["sourcedId"] for u in odd_district.users if u["status"] == "tobedeleted"}
            assert len(aides) == 3 and not aides & set(contents["educators"])
        finally:
            plain.close()
            quirky.close()


@pytest.fixture(scope="module")
def clean_district() -> DistrictData:
    return generate_district(students=60, seed=37)


@pytest.fixture
def live(
    tmp_path: Path, clean_district: DistrictData
) -> Iterator[tuple[Services, SimulatorServer]]:
    portal = make_portal(f"sqlite:///{tmp_path / 'portal.db'}", tmp_path)
    with SimulatorServer([Tenant(TENANT, copy.deepcopy(clean_district), KEY, SECRET)]) as server:
        onboard(portal, server.base_url(TENANT))
        assert sync(portal, server).status == "succeeded"
        yield portal, server
    portal.close()


def apply(live: tuple[Services, SimulatorServer], step: m.Mutated) -> SyncReport:
    portal, server = live
    server.tenant(TENANT).data = step.data
    report = sync(portal, server)
    assert report.status == "succeeded", report.error
    return report


def changed(report: SyncReport) -> dict[str, dict[str, int]]:
    """Only the non-zero change counts, per kind."""
    outcomes = ("created", "updated", "restored", "deactivated")
    return {
        kind: {o: row[o] for o in outcomes if row[o]}
        for kind, row in report.counts.items()
        if any(row[o] for o in outcomes)
    }


def students(data: DistrictData) -> list[str]:
    return [u["sourcedId"] for u in data.users if u["role"] == "student"]


class TestMutationsBetweenSyncs:
    """The sync after a mutation applies exactly the changes the mutation describes."""

    def test_added_students_are_created_with_their_enrollments(
        self, live: tuple[Services, SimulatorServer], clean_district: DistrictData
    ) -> None:
        step = m.add_students(clean_district, 2, at=AT, school="org-101")
        report = apply(live, step)
        assert changed(report) == {
            "student": {"created": step.change.count("created", "users", role="student")},
            "enrollment": {"created": step.change.count("created", "enrollments")},
        }

    def test_edits_update_exactly_the_edited_students(
        self, live: tuple[Services, SimulatorServer], clean_district: DistrictData
    ) -> None:
        step = m.edit_users(clean_district, students(clean_district)[:3], at=AT, emails=True)
        assert changed(apply(live, step)) == {"student": {"updated": 3}}

    def test_a_move_updates_the_student_and_replaces_their_enrollments(
        self, live: tuple[Services, SimulatorServer], clean_district: DistrictData
    ) -> None:
        mover = next(
            u["sourcedId"]
            for u in clean_district.users
            if u["role"] == "student" and u["grades"] == ["08"]
        )
        step = m.move_students(clean_district, [mover], to_school="org-102", at=AT, grade="09")
        report = apply(live, step)
        assert changed(report) == {
            "student": {"updated": 1},
            "enrollment": {
                "created": step.change.count("created", "enrollments"),
                "deactivated": step.change.count("vanished", "enrollments"),
            },
        }

    def test_promotion_updates_every_student_below_twelfth_grade_of_the_school(
        self, live: tuple[Services, SimulatorServer], clean_district: DistrictData
    ) -> None:
        step = m.promote_grades(clean_district, at=AT, schools={"org-101"})
        assert step.change.updated
        assert changed(apply(live, step)) == {"student": {"updated": len(step.change.updated)}}

    def test_tobedeleted_deactivates_and_vanished_records_come_back_restored(
        self, live: tuple[Services, SimulatorServer], clean_district: DistrictData
    ) -> None:
        first, second = students(clean_district)[:2]
        marked = m.mark_tobedeleted(clean_district, "users", [first], at=AT)
        gone = m.vanish(marked.data, "users", [second])
        report = apply(live, gone)
        enrollments_gone = gone.change.count("vanished", "enrollments")
        assert changed(report) == {
            "student": {"deactivated": 2},
            "enrollment": {"deactivated": enrollments_gone},
        }
        back = m.come_back(gone.data, gone.change, at="2026-09-02T12:00:00Z")
        assert changed(apply(live, back)) == {
            "student": {"restored": 1},
            "enrollment": {"restored": enrollments_gone},
        }
