"""Classes stored without their course, linked once the course arrives (decision 0021).

A bundle that does not include courses has its classes provisioned with their
`course_sourced_id` kept and no `course_id`. When a later sync brings those courses, the classes
themselves are unchanged (same content, so the plan does not touch them); this links them to the
courses just created, in the same transaction as the rest of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from rostersync.store.tables import classes, courses

__all__ = ["link_classes"]

# sourcedIds per `IN (…)` list: well under both databases' bound-parameter limits.
CHUNK = 1000


def link_classes(
    conn: Connection, district_id: str, course_sourced_ids: Sequence[str], *, now: datetime
) -> list[str]:
    """Point every class of the district that names one of these courses and has no course
    row yet at that course. Returns the ids of the classes linked (for their audit rows)."""
    course_id = (
        select(courses.c.id)
        .where(
            courses.c.district_id == district_id,
            courses.c.sourced_id == classes.c.course_sourced_id,
        )
        .scalar_subquery()
    )
    linked: list[str] = []
    for start in range(0, len(course_sourced_ids), CHUNK):
        chunk = course_sourced_ids[start : start + CHUNK]
        ids = list(
            conn.execute(
                select(classes.c.id).where(
                    classes.c.district_id == district_id,
                    classes.c.course_id.is_(None),
                    classes.c.course_sourced_id.in_(chunk),
                )
            ).scalars()
        )
        if not ids:
            continue
        conn.execute(
            update(classes)
            .where(classes.c.district_id == district_id, classes.c.id.in_(ids))
            .values(course_id=course_id, updated_at=now)
        )
        linked.extend(ids)
    return linked
