"""Who a stored plan's changes are about: names, roles, student IDs and schools, by sourcedId.

A plan stores each change by kind and sourcedId only (`sync/report.py` `raw_items`). The held
run's page names them with `lookup_subjects`: one set-based SELECT per kind for the ids it is
given (a page of them, or a chunk at a time for a download), never one per record. A held run's
changes, listed in full in `plan_changes`, are named by `listed_subjects`: the same names, joined
in SQL, so the run's page can page, search and count them in the database. A record the plan
would create is not in the portal yet and has no subject.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    Subquery,
    Table,
    and_,
    func,
    literal,
    select,
    true,
    union_all,
)
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
from rostersync.store.workflow_tables import plan_changes

SubjectKey = tuple[str, str]
SUBJECT_COLUMNS = ("name", "role", "student_id", "school")


@dataclass(frozen=True, slots=True)
class PlanSubject:
    """A record as a person knows it: its name, role, district student ID and school."""

    name: str
    role: str
    student_id: str
    school: str


def _full_name(given: ColumnElement[str], family: ColumnElement[str]) -> ColumnElement[str]:
    return func.trim(given + literal(" ", String) + family, type_=String)


@dataclass(frozen=True, slots=True)
class _Subject:
    """How one kind's records are named: its table, the joins that name it, and the four
    columns (name, role, student ID, school)."""

    table: Table
    joins: Callable[[FromClause], FromClause]
    columns: tuple[ColumnElement[Any], ...]


def _subject(kind: EntityKind) -> _Subject:
    school = orgs.alias("school")
    blank = literal("", String)

    def in_school(t: Table) -> Callable[[FromClause], FromClause]:
        return lambda f: f.outerjoin(school, school.c.id == t.c.school_id)

    of_school = func.coalesce(school.c.name, blank)
    if kind is EntityKind.STUDENT:
        t = students
        name = _full_name(t.c.given_name, t.c.family_name)
        return _Subject(
            t, in_school(t), (name, literal("student", String), t.c.student_id, of_school)
        )
    if kind is EntityKind.EDUCATOR:
        t = educators
        name = _full_name(t.c.given_name, t.c.family_name)
        return _Subject(t, in_school(t), (name, t.c.role, blank, of_school))
    if kind is EntityKind.CLASS:
        t = classes
        return _Subject(t, in_school(t), (t.c.title, literal("class", String), blank, of_school))
    if kind is EntityKind.ENROLLMENT:
        t = enrollments
        person = func.coalesce(
            _full_name(students.c.given_name, students.c.family_name),
            _full_name(educators.c.given_name, educators.c.family_name),
            t.c.user_sourced_id,
            type_=String,
        )
        name = (
            person + literal(" in ", String) + func.coalesce(classes.c.title, blank, type_=String)
        )
        return _Subject(
            t,
            lambda f: (
                f.outerjoin(students, students.c.id == enrollments.c.student_id)
                .outerjoin(educators, educators.c.id == enrollments.c.educator_id)
                .outerjoin(classes, classes.c.id == enrollments.c.class_id)
                .outerjoin(school, school.c.id == enrollments.c.school_id)
            ),
            (name, t.c.role, func.coalesce(students.c.student_id, blank), of_school),
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
    table, title, role = named[kind]
    return _Subject(table, lambda f: f, (title, role, blank, blank))


def _query(kind: EntityKind, district_id: str, ids: Sequence[str]) -> Select[Any]:
    subject = _subject(kind)
    t = subject.table
    return (
        select(t.c.sourced_id, *subject.columns)
        .select_from(subject.joins(t))
        .where(t.c.district_id == district_id, t.c.sourced_id.in_(ids))
    )


def listed_subjects(run_id: str, district_id: str, *, lateral: bool) -> Subquery:
    """A held run's listed changes (`store.plan_changes`) with their subjects, as one subquery:
    section, kind, action, sourced_id, portal_id (NULL when the portal does not hold the record:
    one the plan would create), name, role, student_id and school. One branch per kind, each
    joining the changes to that kind's table by sourcedId, so a search, its count and a download
    are each one statement.

    With `lateral` (PostgreSQL), each change's record is a LATERAL subquery with LIMIT 1, so it is
    always probed through the (district, sourcedId) index: as a plain join, before the new
    table's first ANALYZE, PostgreSQL matched each change against the whole district instead.
    SQLite probes the index for the plain join.
    """
    h = plan_changes
    branches = []
    for kind in EntityKind:
        subject = _subject(kind)
        t = subject.table
        named = (t.c.id.label("portal_id"), *_labelled(subject.columns))
        found = and_(t.c.district_id == district_id, t.c.sourced_id == h.c.sourced_id)
        source: FromClause
        if lateral:
            record = (
                select(*named)
                .select_from(subject.joins(t))
                .where(found)
                .order_by(t.c.sourced_id)
                .limit(1)
                .lateral()
            )
            source = h.outerjoin(record, true())
            columns: list[ColumnElement[Any]] = [record.c[c.name] for c in named]
        else:
            source = subject.joins(h.outerjoin(t, found))
            columns = list(named)
        branches.append(
            select(h.c.section, h.c.kind, h.c.action, h.c.sourced_id, *columns)
            .select_from(source)
            .where(h.c.run_id == run_id, h.c.kind == kind.value)
        )
    return union_all(*branches).subquery("listed")


def _labelled(columns: tuple[ColumnElement[Any], ...]) -> list[ColumnElement[Any]]:
    return [c.label(n) for c, n in zip(columns, SUBJECT_COLUMNS, strict=True)]


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
