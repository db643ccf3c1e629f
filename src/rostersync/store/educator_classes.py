"""An educator's classes as their home page lists them, and eligibility confirmed a class at once.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"Teaches" is the rule of `store.web.teaches_student`: an active enrollment of the educator in a
class of their district. A class-wide confirmation is set-based: one query finds the class's
active students who are not yet confirmed, one INSERT and one UPDATE write them, and one
INSERT adds an audit row per student changed (before and after, as a single confirmation has).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from rostersync.store.planner import unindexed
from rostersync.store.tables import audit_log, classes, eligibility, enrollments, students

CONFIRMED = ("eligible", "not_eligible")


@dataclass(frozen=True, slots=True, kw_only=True)
class RosterStudent:
    """A student of an educator's class, with what tells them apart and their eligibility."""

    class_id: str
    student_id: str
    given_name: str
    family_name: str
    grade: str
    district_student_id: str  # the district's own student number (OneRoster `identifier`)
    eligibility: str
    category: str | None

    @property
    def confirmed(self) -> bool:
        return self.eligibility in CONFIRMED


@dataclass(frozen=True, slots=True, kw_only=True)
class Unconfirmed:
    """A student a class-wide confirmation changes, with their eligibility row before it."""

    student_id: str
    before: dict[str, Any] | None  # None: the student had no eligibility row


def class_rosters(
    conn: Connection, district_id: str, class_ids: Sequence[str]
) -> list[RosterStudent]:
    """The active students of these classes, by class then name: one query for all classes."""
    if not class_ids:
        return []
    rows = conn.execute(
        select(
            enrollments.c.class_id,
            students.c.id.label("student_id"),
            students.c.given_name,
            students.c.family_name,
            students.c.grade,
            students.c.student_id.label("district_student_id"),
            eligibility.c.status,
            eligibility.c.category,
        )
        .select_from(
            enrollments.join(students, students.c.id == enrollments.c.student_id).outerjoin(
                eligibility, eligibility.c.student_id == students.c.id
            )
        )
        .where(
            enrollments.c.class_id.in_(list(class_ids)),
            # Found through the classes' index; the district only checked (`store.planner`).
            unindexed(enrollments.c.district_id) == district_id,
            enrollments.c.active,
            students.c.active,
        )
        .distinct()
        .order_by(
            enrollments.c.class_id,
            students.c.family_name,
            students.c.given_name,
            students.c.student_id,
            students.c.id,
        )
    )
    return [
        RosterStudent(
            class_id=r.class_id,
            student_id=r.student_id,
            given_name=r.given_name,
            family_name=r.family_name,
            grade=r.grade,
            district_student_id=r.district_student_id,
            eligibility=r.status or "unconfirmed",
            category=r.category,
        )
        for r in rows
    ]


def teaches_class(conn: Connection, district_id: str, educator_id: str, class_id: str) -> bool:
    """Whether the educator has an active enrollment in this active class of their district."""
    row = conn.execute(
        select(enrollments.c.id)
        .select_from(enrollments.join(classes, classes.c.id == enrollments.c.class_id))
        .where(
            enrollments.c.class_id == class_id,
            enrollments.c.educator_id == educator_id,
            enrollments.c.district_id == district_id,
            enrollments.c.active,
            classes.c.active,
        )
        .limit(1)
    ).first()
    return row is not None


def unconfirmed_in_class(
    conn: Connection, district_id: str, educator_id: str, class_id: str
) -> list[Unconfirmed]:
    """The class's active students whose eligibility is not yet confirmed, when the educator
    teaches it (none otherwise): one query, the teaching rule joined in."""
    mine = enrollments.alias("mine")
    theirs = enrollments.alias("theirs")
    rows = conn.execute(
        select(theirs.c.student_id, eligibility.c.status, eligibility.c.category)
        .select_from(
            mine.join(theirs, theirs.c.class_id == mine.c.class_id)
            .join(students, students.c.id == theirs.c.student_id)
            .outerjoin(
                eligibility,
                and_(
                    eligibility.c.student_id == theirs.c.student_id,
                    eligibility.c.district_id == district_id,
                ),
            )
        )
        .where(
            mine.c.class_id == class_id,
            mine.c.educator_id == educator_id,
            mine.c.district_id == district_id,
            mine.c.active,
            theirs.c.district_id == district_id,
            theirs.c.active,
            students.c.active,
            or_(eligibility.c.status.is_(None), eligibility.c.status.not_in(CONFIRMED)),
        )
        .distinct()
        .order_by(theirs.c.student_id)
    )
    return [
        Unconfirmed(
            student_id=r.student_id,
            before=None if r.status is None else {"status": r.status, "category": r.category},
        )
        for r in rows
    ]


def confirm_students(
    conn: Connection,
    *,
    district_id: str,
    found: Sequence[Unconfirmed],
    status: str,
    actor: str,
    now: datetime,
) -> list[str]:
    """Set the found students' eligibility from the portal: their rows in one INSERT (those
    without one) and one UPDATE (the rest), and one audit row each of before and after, in one
    INSERT. Returns the ids of the students changed.

    The UPDATE only matches rows still unconfirmed: a student confirmed by a co-teacher since
    `found` was read keeps that confirmation, and is neither changed nor audited here (only
    then is a second query needed, to learn which rows the UPDATE matched).
    """
    if not found:
        return []
    values: dict[str, Any] = {
        "status": status,
        "category": None,
        "source": "portal",
        "changed_at": now,
        "changed_by": actor,
    }
    new = [s.student_id for s in found if s.before is None]
    kept = [s.student_id for s in found if s.before is not None]
    if new:
        conn.execute(
            insert(eligibility),
            [{"student_id": sid, "district_id": district_id, **values} for sid in new],
        )
    changed = set(new)
    if kept:
        result = conn.execute(
            update(eligibility)
            .where(
                eligibility.c.student_id.in_(kept),
                eligibility.c.district_id == district_id,
                eligibility.c.status.not_in(CONFIRMED),
            )
            .values(**values)
        )
        if result.rowcount == len(kept):
            changed.update(kept)
        else:
            changed.update(
                conn.execute(
                    select(eligibility.c.student_id).where(
                        eligibility.c.student_id.in_(kept),
                        eligibility.c.district_id == district_id,
                        eligibility.c.changed_by == actor,
                        eligibility.c.changed_at == now,
                    )
                ).scalars()
            )
    audited = [s for s in found if s.student_id in changed]
    if audited:
        conn.execute(
            insert(audit_log),
            [
                {
                    "district_id": district_id,
                    "run_id": None,
                    "actor": actor,
                    "action": "eligibility",
                    "entity_type": "student",
                    "entity_id": s.student_id,
                    "changes": {
                        "before": s.before,
                        "after": {"status": status, "category": None},
                        "source": "portal",
                    },
                    "at": now,
                }
                for s in audited
            ],
        )
    return [s.student_id for s in audited]


__all__ = [
    "CONFIRMED",
    "RosterStudent",
    "Unconfirmed",
    "class_rosters",
    "confirm_students",
    "teaches_class",
    "unconfirmed_in_class",
]
