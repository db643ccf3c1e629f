"""What a page of audit entries names: each entry's record as people know it.

An audit entry keeps the portal id of the record it changed (`entity_type`, `entity_id`), never
a name (names change, and the log outlives them). The audit page names the records of the
entries it shows from the records as they are now: one statement per kind of record on the page,
over that page's ids alone. An enrollment is named "student in class".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, Table, func, literal, select
from sqlalchemy.engine import Connection

from rostersync.domain.records import EntityKind
from rostersync.store.planner import unindexed
from rostersync.store.runs import AuditEntry
from rostersync.store.tables import (
    academic_sessions,
    classes,
    courses,
    educators,
    enrollments,
    orgs,
    students,
)

__all__ = ["AuditSubject", "audit_subjects"]


@dataclass(frozen=True, slots=True)
class AuditSubject:
    """A record an audit entry changed, as people know it, and its ClassLink sourcedId."""

    name: str
    sourced_id: str | None


def _person(t: Table) -> ColumnElement[str]:
    return func.trim(t.c.given_name + literal(" ", String) + t.c.family_name, type_=String)


# Each kind of record with a name of its own: its table and the column that names it.
_NAMED: dict[str, tuple[Table, ColumnElement[str]]] = {
    EntityKind.STUDENT.value: (students, _person(students)),
    EntityKind.EDUCATOR.value: (educators, _person(educators)),
    EntityKind.CLASS.value: (classes, classes.c.title),
    EntityKind.COURSE.value: (courses, courses.c.title),
    EntityKind.ORG.value: (orgs, orgs.c.name),
    EntityKind.ACADEMIC_SESSION.value: (academic_sessions, academic_sessions.c.title),
}


def audit_subjects(
    conn: Connection, district_id: str, entries: Iterable[AuditEntry]
) -> dict[tuple[str, str], AuditSubject]:
    """The records `entries` changed, by (entity_type, entity_id), that the district still holds."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        wanted.setdefault(entry.entity_type, set()).add(entry.entity_id)
    found: dict[tuple[str, str], AuditSubject] = {}
    for kind, ids in wanted.items():
        if kind in _NAMED:
            table, name = _NAMED[kind]
            rows = conn.execute(
                select(table.c.id, name.label("name"), table.c.sourced_id).where(
                    table.c.id.in_(sorted(ids)), unindexed(table.c.district_id) == district_id
                )
            )
            found.update({(kind, r.id): AuditSubject(r.name, r.sourced_id) for r in rows})
        elif kind == EntityKind.ENROLLMENT.value:
            e, s, t, c = enrollments, students, educators, classes
            person = func.coalesce(_person(s), _person(t))
            rows = conn.execute(
                select(e.c.id, person.label("person"), c.c.title, e.c.sourced_id)
                .select_from(
                    e.join(c, c.c.id == e.c.class_id)
                    .outerjoin(s, s.c.id == e.c.student_id)
                    .outerjoin(t, t.c.id == e.c.educator_id)
                )
                .where(e.c.id.in_(sorted(ids)), unindexed(e.c.district_id) == district_id)
            )
            found.update(
                {
                    (kind, r.id): AuditSubject(
                        f"{r.person or 'someone'} in {r.title}", r.sourced_id
                    )
                    for r in rows
                }
            )
    return found
