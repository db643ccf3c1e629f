"""Who a stored plan's changes are about: names, roles, student IDs and schools, by sourcedId.

A plan stores each change by kind and sourcedId only (`sync/report.py` `raw_items`). The held
run's page names them with `lookup_subjects`: one set-based SELECT per kind for the ids it is
given (a page of them, or a chunk at a time for a download), never one per record. A record the
plan would create is not in the portal yet and has no subject.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, func, literal, select
from sqlalchemy.engine import Connection

from rostersync.domain.records import EntityKind
from rostersync.store.roster import LOOKUP_CHUNK
from rostersync.store.tables import (
    academic_sessions,
    classes,
    courses,
    educators,
    enrollments,
    orgs,
    students,
)

SubjectKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class PlanSubject:
    """A record as a person knows it: its name, role, district student ID and school."""

    name: str
    role: str
    student_id: str
    school: str


def _full_name(given: ColumnElement[str], family: ColumnElement[str]) -> ColumnElement[str]:
    return func.trim(given + literal(" ", String) + family, type_=String)


def _query(kind: EntityKind, district_id: str, ids: Sequence[str]) -> Select[Any]:
    school = orgs.alias("school")
    blank = literal("", String)
    if kind is EntityKind.STUDENT:
        t = students
        return (
            select(
                t.c.sourced_id,
                _full_name(t.c.given_name, t.c.family_name),
                literal("student", String),
                t.c.student_id,
                func.coalesce(school.c.name, blank),
            )
            .select_from(t.outerjoin(school, school.c.id == t.c.school_id))
            .where(t.c.district_id == district_id, t.c.sourced_id.in_(ids))
        )
    if kind is EntityKind.EDUCATOR:
        t = educators
        return (
            select(
                t.c.sourced_id,
                _full_name(t.c.given_name, t.c.family_name),
                t.c.role,
                blank,
                func.coalesce(school.c.name, blank),
            )
            .select_from(t.outerjoin(school, school.c.id == t.c.school_id))
            .where(t.c.district_id == district_id, t.c.sourced_id.in_(ids))
        )
    if kind is EntityKind.CLASS:
        t = classes
        return (
            select(
                t.c.sourced_id,
                t.c.title,
                literal("class", String),
                blank,
                func.coalesce(school.c.name, blank),
            )
            .select_from(t.outerjoin(school, school.c.id == t.c.school_id))
            .where(t.c.district_id == district_id, t.c.sourced_id.in_(ids))
        )
    if kind is EntityKind.ENROLLMENT:
        t = enrollments
        person = func.coalesce(
            _full_name(students.c.given_name, students.c.family_name),
            _full_name(educators.c.given_name, educators.c.family_name),
            t.c.user_sourced_id,
            type_=String,
        )
        return (
            select(
                t.c.sourced_id,
                person
                + literal(" in ", String)
                + func.coalesce(classes.c.title, blank, type_=String),
                t.c.role,
                func.coalesce(students.c.student_id, blank),
                func.coalesce(school.c.name, blank),
            )
            .select_from(
                t.outerjoin(students, students.c.id == t.c.student_id)
                .outerjoin(educators, educators.c.id == t.c.educator_id)
                .outerjoin(classes, classes.c.id == t.c.class_id)
                .outerjoin(school, school.c.id == t.c.school_id)
            )
            .where(t.c.district_id == district_id, t.c.sourced_id.in_(ids))
        )
    named = {
        EntityKind.ORG: (orgs, orgs.c.name, orgs.c.type),
        EntityKind.COURSE: (courses, courses.c.title, literal("course", String)),
        EntityKind.ACADEMIC_SESSION: (
            academic_sessions,
            academic_sessions.c.title,
            academic_sessions.c.type,
        ),
    }
    table, name, role = named[kind]
    return select(table.c.sourced_id, name, role, blank, blank).where(
        table.c.district_id == district_id, table.c.sourced_id.in_(ids)
    )


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), LOOKUP_CHUNK):
        yield ids[start : start + LOOKUP_CHUNK]


def lookup_subjects(
    conn: Connection, district_id: str, keys: Sequence[SubjectKey]
) -> dict[SubjectKey, PlanSubject]:
    """The subjects of the given (kind, sourcedId) pairs that the portal holds.

    Args:
        conn: A connection.
        district_id: The district whose records these are.
        keys: (kind value, sourcedId) pairs; unknown kinds and missing records are left out.

    Returns:
        (kind value, sourcedId) → its subject.
    """
    by_kind: dict[EntityKind, list[str]] = defaultdict(list)
    for kind, sourced_id in keys:
        if kind in EntityKind._value2member_map_:
            by_kind[EntityKind(kind)].append(sourced_id)
    found: dict[SubjectKey, PlanSubject] = {}
    for kind, ids in by_kind.items():
        for chunk in _chunks(sorted(set(ids))):
            for row in conn.execute(_query(kind, district_id, chunk)):
                sourced_id, name, role, student_id, school = row
                found[(kind.value, str(sourced_id))] = PlanSubject(
                    name=str(name or ""),
                    role=str(role or ""),
                    student_id=str(student_id or ""),
                    school=str(school or ""),
                )
    return found
