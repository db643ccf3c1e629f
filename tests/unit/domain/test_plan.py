"""Planning sorts records into create, update, restore, unchanged and deactivate by hash alone."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from tests import factories as f

from rostersync.domain import plan as plan_module
from rostersync.domain.eligibility import Eligibility, EligibilityStatus
from rostersync.domain.plan import plan_entity, plan_sync
from rostersync.domain.records import EntityKind, StoredRecord
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.validate import validate_roster

ids = (f"id-{n}" for n in itertools.count())


def stored_from(plan):  # type: ignore[no-untyped-def]
    """What the portal would hold after applying a plan for one kind."""
    return {
        w.record.sourced_id: StoredRecord(
            id=w.id, sourced_id=w.record.sourced_id, content_hash=w.content_hash, active=True
        )
        for w in plan.creates
    }


class TestPlanEntity:
    """One kind at a time."""

    def test_new_records_are_created_and_a_second_identical_pass_changes_nothing(self) -> None:
        records = [f.org("a"), f.org("b")]
        first = plan_entity(EntityKind.ORG, records, {}, complete=True, new_id=lambda: next(ids))
        assert len(first.creates) == 2
        second = plan_entity(EntityKind.ORG, records, stored_from(first), complete=True)
        assert second.change_count == 0 and second.unchanged == 2

    def test_changed_content_is_an_update_keeping_the_portal_id(self) -> None:
        first = plan_entity(EntityKind.ORG, [f.org("a")], {}, complete=True)
        stored = stored_from(first)
        second = plan_entity(EntityKind.ORG, [f.org("a", name="Renamed")], stored, complete=True)
        assert [w.id for w in second.updates] == [stored["a"].id]

    def test_a_touch_without_content_change_is_unchanged(self) -> None:
        first = plan_entity(EntityKind.ORG, [f.org("a")], {}, complete=True)
        touched = f.org("a", date_last_modified="2030-01-01T00:00:00Z")
        second = plan_entity(EntityKind.ORG, [touched], stored_from(first), complete=True)
        assert second.unchanged == 1

    def test_absent_records_are_deactivated_only_from_a_complete_snapshot(self) -> None:
        stored = stored_from(
            plan_entity(EntityKind.ORG, [f.org("a"), f.org("b")], {}, complete=True)
        )
        partial = plan_entity(EntityKind.ORG, [f.org("a")], stored, complete=False)
        assert partial.deactivations == []
        full = plan_entity(EntityKind.ORG, [f.org("a")], stored, complete=True)
        assert [d.sourced_id for d in full.deactivations] == ["b"]

    def test_held_and_manually_rostered_records_are_never_deactivated(self) -> None:
        stored = {
            "b": StoredRecord(id="1", sourced_id="b", content_hash="x", active=True),
            "m": StoredRecord(
                id="2", sourced_id="m", content_hash="x", active=True, manually_rostered=True
            ),
        }
        plan = plan_entity(EntityKind.ORG, [], stored, complete=True, held={"b"})
        assert plan.deactivations == [] and plan.held == 1

    def test_returning_record_is_restored_with_its_old_id(self) -> None:
        stored = {"a": StoredRecord(id="old", sourced_id="a", content_hash="x", active=False)}
        plan = plan_entity(EntityKind.ORG, [f.org("a")], stored, complete=True)
        assert [w.id for w in plan.restores] == ["old"]

    def test_tobedeleted_deactivates_an_active_record_and_creates_nothing(self) -> None:
        stored = {"a": StoredRecord(id="1", sourced_id="a", content_hash="x", active=True)}
        gone = [f.org("a", status="tobedeleted"), f.org("new", status="tobedeleted")]
        plan = plan_entity(EntityKind.ORG, gone, stored, complete=False)
        assert [d.id for d in plan.deactivations] == ["1"] and plan.creates == []


class TestPlanSyncEligibility:
    """Eligibility changes only as the district's eligibility source allows."""

    def test_portal_source_starts_new_students_unconfirmed_and_never_changes_them(self) -> None:
        roster = validate_roster(f.small_roster(2), DistrictRules())
        plan = plan_sync(roster, {}, {}, DistrictRules(), complete_kinds=set(EntityKind))
        assert {c.after.status for c in plan.eligibility} == {EligibilityStatus.UNCONFIRMED}
        assert len(plan.eligibility) == 2

    def test_metadata_source_sets_category_and_leaves_missing_values_alone(self) -> None:
        rules = DistrictRules(eligibility_source=EligibilitySource.METADATA, eligibility_field="e")
        roster = f.small_roster(
            2,
            **{
                "stu-1": f.student("stu-1", 1, metadata={"e": "RD"}),
                "stu-2": f.student("stu-2", 2),
            },
        )
        first = plan_sync(
            validate_roster(roster, rules), {}, {}, rules, complete_kinds=set(EntityKind)
        )
        after = {c.student_id: c.after for c in first.eligibility}
        stu1 = first.entities[EntityKind.STUDENT].ids["stu-1"]
        stu2 = first.entities[EntityKind.STUDENT].ids["stu-2"]
        assert after[stu1] == Eligibility(status=EligibilityStatus.ELIGIBLE, category="RD")
        # A later pull without the field keeps what the portal has.
        current = {stu2: Eligibility(status=EligibilityStatus.ELIGIBLE, category="BVI")}
        stored = {
            EntityKind.STUDENT: {
                w.record.sourced_id: StoredRecord(
                    id=w.id,
                    sourced_id=w.record.sourced_id,
                    content_hash=w.content_hash,
                    active=True,
                )
                for w in first.entities[EntityKind.STUDENT].creates
            }
        }
        second = plan_sync(
            validate_roster(roster, rules), stored, current, rules, complete_kinds=set(EntityKind)
        )
        assert [c.student_id for c in second.eligibility] == [stu1]

    def test_current_eligibility_read_a_chunk_of_students_at_a_time_plans_the_same(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(plan_module, "ELIGIBILITY_CHUNK", 2)
        rules = DistrictRules(eligibility_source=EligibilitySource.METADATA, eligibility_field="e")
        people = {
            f"stu-{n}": f.student(f"stu-{n}", n, metadata={"e": "RD" if n % 2 else "none"})
            for n in range(1, 6)
        }
        roster = validate_roster(f.small_roster(5, **people), rules)
        ids = itertools.count()
        first = plan_sync(
            roster, {}, {}, rules, complete_kinds=set(EntityKind), new_id=lambda: f"p{next(ids)}"
        )
        # What the portal holds: every student's eligibility as the first plan set it, except
        # one student's, changed by hand since.
        current = {c.student_id: c.after for c in first.eligibility}
        changed = first.entities[EntityKind.STUDENT].ids["stu-3"]
        current[changed] = Eligibility(status=EligibilityStatus.NOT_ELIGIBLE)
        asked: list[list[str]] = []

        def lookup(student_ids: Sequence[str]) -> dict[str, Eligibility]:
            asked.append(list(student_ids))
            return {i: current[i] for i in student_ids if i in current}

        stored = {
            EntityKind.STUDENT: {
                w.record.sourced_id: StoredRecord(w.id, w.record.sourced_id, w.content_hash, True)
                for w in first.entities[EntityKind.STUDENT].creates
            }
        }
        chunked = plan_sync(roster, stored, lookup, rules, complete_kinds=set(EntityKind))
        whole = plan_sync(roster, stored, current, rules, complete_kinds=set(EntityKind))
        assert chunked.eligibility == whole.eligibility
        assert [c.student_id for c in chunked.eligibility] == [changed]
        assert [len(a) for a in asked] == [2, 2, 1]
        assert sorted(itertools.chain(*asked)) == sorted(
            stored[EntityKind.STUDENT][s].id for s in people
        )
