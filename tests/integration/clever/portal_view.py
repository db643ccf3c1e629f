"""A portal as its people see it, without the source's ids: who, which classes, who is in which.

Two sources of the same district (ClassLink's OneRoster and Clever) give every record different
ids, so two portals are compared by what a person sees: people by name, student ID, email and
role; classes by title and code; enrollments as (class, person, role); eligibility per student ID.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from rostersync.services import Services
from rostersync.store import tables

Person = tuple[str, str, str]  # given name, family name, email


@dataclass(frozen=True)
class PortalView:
    students: frozenset[tuple[str, str, str, str, str]]  # given, family, email, ID, grade
    educators: frozenset[tuple[str, str, str, str]]  # given, family, email, role
    classes: frozenset[tuple[str, str]]  # title, code
    enrollments: frozenset[tuple[tuple[str, str], Person, str]]
    eligibility: dict[str, tuple[str, str | None]]  # student ID → (status, category)


def portal_view(portal: Services) -> PortalView:
    """The active people, classes and enrollments of the portal's one district."""
    s, e, c, n, g = (
        tables.students,
        tables.educators,
        tables.classes,
        tables.enrollments,
        tables.eligibility,
    )
    with portal.engine.connect() as conn:
        students = conn.execute(
            select(
                s.c.id, s.c.given_name, s.c.family_name, s.c.email, s.c.student_id, s.c.grade
            ).where(s.c.active)
        ).all()
        educators = conn.execute(
            select(e.c.id, e.c.given_name, e.c.family_name, e.c.email, e.c.role).where(e.c.active)
        ).all()
        classes = conn.execute(select(c.c.id, c.c.title, c.c.class_code).where(c.c.active)).all()
        enrollments = conn.execute(
            select(n.c.class_id, n.c.student_id, n.c.educator_id, n.c.role).where(n.c.active)
        ).all()
        eligibility = conn.execute(
            select(s.c.student_id, g.c.status, g.c.category).join(g, g.c.student_id == s.c.id)
        ).all()
    people: dict[str, Person] = {
        row.id: (row.given_name, row.family_name, row.email) for row in (*students, *educators)
    }
    class_of = {row.id: (row.title, row.class_code) for row in classes}
    return PortalView(
        students=frozenset(
            (r.given_name, r.family_name, r.email, r.student_id, r.grade) for r in students
        ),
        educators=frozenset((r.given_name, r.family_name, r.email, r.role) for r in educators),
        classes=frozenset(class_of.values()),
        enrollments=frozenset(
            (class_of[r.class_id], people[r.student_id or r.educator_id], r.role)
            for r in enrollments
            if r.class_id in class_of and (r.student_id or r.educator_id) in people
        ),
        eligibility={r.student_id: (r.status, r.category) for r in eligibility},
    )
