"""The speed-ups the benchmark measures keep every result exactly as it was."""

from __future__ import annotations

import gc
from dataclasses import fields
from typing import Any

import pytest

from rostersync.domain.records import (
    AcademicSession,
    Course,
    Educator,
    Enrollment,
    Org,
    Person,
    Record,
    SchoolClass,
    Student,
    _digest,
)
from rostersync.sync.pipeline import _no_cyclic_gc
from rostersync.sync.report import first_sorted as _first_sorted


def field_by_field_hash(record: Record) -> str:
    """The content hash as it was first defined: every hashed field in order, mappings sorted."""

    def freeze(value: Any) -> Any:
        return tuple(sorted(value.items())) if isinstance(value, dict) else value

    names = [f.name for f in fields(record) if f.name not in Record._UNHASHED]
    return _digest(tuple(freeze(getattr(record, n)) for n in names))


RECORDS: list[Record] = [
    Org(sourced_id="org-1", name="Springfield USD", type="district"),
    AcademicSession(
        sourced_id="as-1",
        title="2026-2027",
        type="schoolYear",
        start_date="2026-08-17",
        end_date="2027-06-11",
        school_year="2027",
    ),
    Course(sourced_id="c-1", title="Math 5", course_code="MA-05", org_sourced_id="org-1"),
    SchoolClass(
        sourced_id="cls-1",
        title="Math 5 - Section 1",
        class_code="MA-05-01",
        class_type="scheduled",
        course_sourced_id="c-1",
        school_sourced_id="org-1",
        term_sourced_ids=("t-1", "t-2"),
    ),
    Person(
        sourced_id="stu-1",
        role="student",
        username="ahopper1",
        given_name="Ada",
        family_name="Hopper",
        metadata={"eligibility": "free", "another": "x"},
        user_ids=(("StateID", "123"),),
    ),
    Student(
        sourced_id="stu-1",
        username="ahopper1",
        given_name="Ada",
        family_name="Hopper",
        email="ada@example.org",
        student_id="123",
        grade="05",
        school_sourced_ids=("org-1",),
        eligibility_value="free",
    ),
    Educator(
        sourced_id="tch-1",
        role="teacher",
        username="gb",
        given_name="Grace",
        family_name="Brewster",
        email="grace@example.org",
        school_sourced_ids=("org-1",),
    ),
    Enrollment(
        sourced_id="enr-1",
        class_sourced_id="cls-1",
        school_sourced_id="org-1",
        user_sourced_id="stu-1",
        role="student",
    ),
]


class TestContentHash:
    """Hashes already stored in portals stay valid: the fast hash equals the original one."""

    @pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
    def test_the_hash_is_the_field_by_field_digest(self, record: Record) -> None:
        assert record.content_hash() == field_by_field_hash(record)

    def test_metadata_order_does_not_change_a_persons_hash(self) -> None:
        person = RECORDS[4]
        assert isinstance(person, Person)
        reordered = Person(
            sourced_id=person.sourced_id,
            role=person.role,
            username=person.username,
            given_name=person.given_name,
            family_name=person.family_name,
            metadata=dict(reversed(list(person.metadata.items()))),
            user_ids=person.user_ids,
        )
        assert reordered.content_hash() == person.content_hash()


class TestCyclicCollectorPause:
    """A run pauses the cyclic garbage collector and always puts it back as it was."""

    def test_it_is_off_during_a_run_and_on_after(self) -> None:
        assert gc.isenabled()
        with _no_cyclic_gc():
            assert not gc.isenabled()
        assert gc.isenabled()

    def test_it_is_back_on_after_a_run_that_raised(self) -> None:
        with pytest.raises(RuntimeError), _no_cyclic_gc():
            raise RuntimeError("the run failed")
        assert gc.isenabled()

    def test_it_stays_off_when_it_was_off(self) -> None:
        gc.disable()
        try:
            with _no_cyclic_gc():
                pass
            assert not gc.isenabled()
        finally:
            gc.enable()


class TestPlanSummaryLists:
    """A plan summary lists the first sourcedIds in order without sorting them all."""

    def test_it_keeps_the_smallest_in_order(self) -> None:
        values = [f"stu-{n:07d}" for n in range(5000, 0, -1)]
        assert _first_sorted(values) == sorted(values)[:200]

    def test_short_lists_come_back_whole_and_sorted(self) -> None:
        assert _first_sorted(["b", "c", "a"]) == ["a", "b", "c"]
