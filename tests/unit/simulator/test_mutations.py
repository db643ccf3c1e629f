"""Mutations are pure: a new district, the old one untouched, and a description that matches."""

from __future__ import annotations

import copy

import pytest

from rostersync.simulator import DistrictData, generate_district
from rostersync.simulator import faults as f
from rostersync.simulator import mutations as m

AT = "2026-09-01T12:00:00Z"


@pytest.fixture(scope="module")
def district() -> DistrictData:
    return generate_district(students=40, seed=5)


def by_id(data: DistrictData, collection: str) -> dict[str, dict[str, object]]:
    return {r["sourcedId"]: r for r in data.collection(collection)}


def stamped(data: DistrictData) -> set[tuple[str, str]]:
    """(collection, sourcedId) of every record modified at AT."""
    return {
        (c, r["sourcedId"])
        for c in ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
        for r in data.collection(c)
        if r["dateLastModified"] == AT
    }


class TestPurity:
    """No mutation modifies its input, and each stamps exactly what it touched."""

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda d: m.add_students(d, 2, at=AT),
            lambda d: m.edit_users(d, ["stu-000001"], at=AT, emails=True),
            lambda d: m.move_students(d, ["stu-000001"], to_school="org-101", at=AT),
            lambda d: m.promote_grades(d, at=AT),
            lambda d: m.mark_tobedeleted(d, "users", ["stu-000002"], at=AT),
        ],
        ids=["add", "edit", "move", "promote", "tobedeleted"],
    )
    def test_input_untouched_and_touched_records_stamped(
        self, district: DistrictData, mutate: object
    ) -> None:
        before = copy.deepcopy(district)
        step = mutate(district)  # type: ignore[operator]
        assert district == before
        change = step.change
        touched = {
            (r.collection, r.sourced_id)
            for r in (*change.created, *change.updated, *change.deleted)
        }
        assert touched and stamped(step.data) == touched


class TestDescriptions:
    """Each change lists what a sync will see."""

    def test_added_students_have_unique_ids_and_their_enrollments(
        self, district: DistrictData
    ) -> None:
        step = m.add_students(district, 3, at=AT)
        assert step.change.count("created", "users", role="student") == 3
        assert len(step.data.users) == len(district.users) + 3
        new = step.change.count("created", "enrollments")
        assert new > 0 and len(step.data.enrollments) == len(district.enrollments) + new
        assert len(by_id(step.data, "users")) == len(step.data.users)

    def test_promotion_moves_grades_up_and_leaves_twelfth_graders(self) -> None:
        data = generate_district(students=800, seed=5)
        step = m.promote_grades(data, at=AT)
        old, new = by_id(data, "users"), by_id(step.data, "users")
        for ref in step.change.updated:
            assert old[ref.sourced_id]["grades"] != new[ref.sourced_id]["grades"]
        seniors = [u for u in data.users if u.get("grades") == ["12"]]
        assert seniors and all(new[u["sourcedId"]]["grades"] == ["12"] for u in seniors)

    def test_vanished_records_come_back_as_they_were(self, district: DistrictData) -> None:
        gone = m.vanish(district, "users", ["stu-000003"])
        assert "stu-000003" not in by_id(gone.data, "users")
        assert gone.change.count("vanished", "enrollments") > 0
        back = m.come_back(gone.data, gone.change, at=AT)
        assert back.change.count("returned", "users") == 1
        restored = by_id(back.data, "users")["stu-000003"]
        assert {**restored, "dateLastModified": None} == {
            **by_id(district, "users")["stu-000003"],
            "dateLastModified": None,
        }

    def test_a_move_to_a_school_without_the_grade_is_refused(self, district: DistrictData) -> None:
        with pytest.raises(ValueError, match="no classes for grades"):
            m.move_students(district, ["stu-000001"], to_school="org-102", at=AT)


class TestFaultSpecs:
    """The command line's fault specs become the same faults as the API's."""

    def test_specs_parse_into_faults(self) -> None:
        assert f.parse_fault("503:collection=users,nth=2") == f.server_error(
            503, collection="users", nth=2
        )
        assert f.parse_fault("429-burst:times=5,retry_after=2") == f.throttle(
            times=5, retry_after=2.0
        )
        assert f.parse_fault("slow:delay=45").delay == 45.0

    @pytest.mark.parametrize("spec", ["teapot", "slow:speed=3", "change", "5xx:status=404"])
    def test_bad_specs_are_refused(self, spec: str) -> None:
        with pytest.raises(ValueError):
            f.parse_fault(spec)

    def test_a_fault_fires_on_its_window_of_its_collection_only(self) -> None:
        plan = f.FaultPlan([f.server_error(502, times=2, collection="users", nth=2)])
        decided = [plan.decide(c) for c in ("users", "orgs", "users", "users", "users")]
        assert [bool(d) for d in decided] == [False, False, True, True, False]
        assert plan.fired == {"5xx": 2}
