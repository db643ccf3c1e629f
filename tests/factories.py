"""Factories for domain records: a small valid district that tests bend one field at a time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rostersync.domain.records import AcademicSession, Course, Enrollment, Org, Person, SchoolClass
from rostersync.domain.validate import SourceRoster


def org(sid: str = "sch-1", **kw: Any) -> Org:
    fields: dict[str, Any] = {"name": f"School {sid}", "type": "school", "parent_sourced_id": "d-1"}
    fields.update(kw)
    return Org(sourced_id=sid, **fields)


def term(sid: str = "term-1", **kw: Any) -> AcademicSession:
    fields: dict[str, Any] = {
        "title": "Fall",
        "type": "semester",
        "start_date": "2026-08-15",
        "end_date": "2026-12-20",
        "school_year": "2027",
    }
    fields.update(kw)
    return AcademicSession(sourced_id=sid, **fields)


def course(sid: str = "crs-1", **kw: Any) -> Course:
    fields: dict[str, Any] = {"title": "Reading", "course_code": "RD1", "org_sourced_id": "sch-1"}
    fields.update(kw)
    return Course(sourced_id=sid, **fields)


def klass(sid: str = "cls-1", **kw: Any) -> SchoolClass:
    fields: dict[str, Any] = {
        "title": "Reading 1",
        "class_code": "RD1-01",
        "class_type": "scheduled",
        "course_sourced_id": "crs-1",
        "school_sourced_id": "sch-1",
        "term_sourced_ids": ("term-1",),
    }
    fields.update(kw)
    return SchoolClass(sourced_id=sid, **fields)


def student(sid: str = "stu-1", n: int = 1, **kw: Any) -> Person:
    fields: dict[str, Any] = {
        "role": "student",
        "username": f"student{n}",
        "given_name": "Ada",
        "family_name": f"Reader{n}",
        "identifier": f"S{n:05d}",
        "email": f"student{n}@springfield.example",
        "org_sourced_ids": ("sch-1",),
        "grades": ("05",),
    }
    fields.update(kw)
    return Person(sourced_id=sid, **fields)


def teacher(sid: str = "tch-1", n: int = 1, **kw: Any) -> Person:
    fields: dict[str, Any] = {
        "role": "teacher",
        "username": f"teacher{n}",
        "given_name": "Grace",
        "family_name": f"Teacher{n}",
        "email": f"teacher{n}@springfield.example",
        "org_sourced_ids": ("sch-1",),
    }
    fields.update(kw)
    return Person(sourced_id=sid, **fields)


def enrollment(sid: str, user: str, cls: str = "cls-1", role: str = "student") -> Enrollment:
    return Enrollment(
        sourced_id=sid,
        class_sourced_id=cls,
        school_sourced_id="sch-1",
        user_sourced_id=user,
        role=role,
    )


def small_roster(students: int = 3, **overrides: Person) -> SourceRoster:
    """A valid district: one school, one term, course, class, teacher and `students` students."""
    roster = SourceRoster()
    records: list[Any] = [
        org("d-1", type="district", parent_sourced_id=None, name="Springfield USD"),
        org("sch-1"),
        term(),
        course(),
        klass(),
        teacher(),
        enrollment("enr-t1", "tch-1", role="teacher"),
    ]
    for n in range(1, students + 1):
        person = overrides.get(f"stu-{n}", student(f"stu-{n}", n))
        records.append(person)
        records.append(enrollment(f"enr-{n}", f"stu-{n}"))
    for record in records:
        roster.add(record)
    return roster


def changed(person: Person, **kw: Any) -> Person:
    return replace(person, **kw)
