"""Accounts made outside a sync: by the staff import spreadsheet, or by hand.

They are educators or students with `manually_rostered = true`, no sourcedId and no content hash,
so a sync's planning index (`roster.load_index`) never sees them and never deactivates them; a
later sync may match them to a ClassLink record. Every function takes a `Connection` whose
transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.engine import Connection

from rostersync.domain.emails import normal_email
from rostersync.domain.records import EntityKind
from rostersync.domain.staff_import import NewEducator
from rostersync.store.tables import audit_log, educators, orgs, students

# Emails per `IN (…)` list: well under both databases' bound-parameter limits.
CHUNK = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class NewStudent:
    """A student account made by hand."""

    given_name: str
    family_name: str
    email: str
    student_id: str
    grade: str
    school_id: str | None
    school_sourced_id: str | None


def schools(conn: Connection, district_id: str) -> list[tuple[str, str, str]]:
    """The district's active schools as (portal id, sourcedId, identifier)."""
    stmt = select(orgs.c.id, orgs.c.sourced_id, orgs.c.identifier).where(
        orgs.c.district_id == district_id, orgs.c.type == "school", orgs.c.active
    )
    return [(r.id, r.sourced_id, r.identifier or "") for r in conn.execute(stmt)]


def emails_in_use(conn: Connection, district_id: str, emails: Collection[str]) -> set[str]:
    """Which of the given normalised emails (`normal_email`) the district's people already have.

    One query per table per 1,000 emails, using the `lower(email)` indexes. SQLite's `lower`
    folds only ASCII letters, so an email with other letters (`JOSÉ@…`) is looked for by a
    pattern in which each of them matches any one character, and the candidates are compared
    in Python: one address is one address, whatever its case.
    """
    wanted = sorted({e for e in emails if e})
    plain = [e for e in wanted if e.isascii()]
    found: set[str] = set()
    for table in (educators, students):
        lowered = func.lower(table.c.email)
        for chunk in _chunks(plain):
            stmt = select(lowered).where(table.c.district_id == district_id, lowered.in_(chunk))
            found.update(conn.execute(stmt).scalars())
        for email in (e for e in wanted if not e.isascii()):
            stmt = select(table.c.email).where(
                table.c.district_id == district_id, email_candidates(table.c.email, email)
            )
            if any(normal_email(e) == email for e in conn.execute(stmt).scalars()):
                found.add(email)
    return found


def email_candidates(column: ColumnElement[str], email: str) -> ColumnElement[bool]:
    """Rows whose `column` may hold `email` (normalised, `normal_email`) in any case.

    An ASCII email is matched exactly on `lower(column)` (its index). SQLite's `lower` folds
    only ASCII letters, so for any other email each non-ASCII letter matches any one character
    (`LIKE`): the caller keeps the rows whose `normal_email` is `email`.
    """
    lowered = func.lower(column)
    if email.isascii():
        return lowered == email
    escaped = email.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = "".join(c if c.isascii() else "_" for c in escaped)
    return lowered.like(pattern, escape="\\")


def insert_educators(
    conn: Connection,
    *,
    district_id: str,
    accounts: Sequence[NewEducator],
    actor: str,
    via: str,
    now: datetime,
) -> list[str]:
    """Insert educator accounts in bulk, with one audit row each; returns their portal ids.

    Args:
        conn: A connection in a transaction the caller owns and commits.
        district_id: The district.
        accounts: Valid accounts (see `validate_staff_rows`).
        actor: Who made them (a staff user), named in the audit log.
        via: How ("spreadsheet", "by hand"), kept in the audit row.
        now: Creation time (timezone-aware).
    """
    if not accounts:
        return []
    ids = [str(uuid.uuid4()) for _ in accounts]
    rows = [
        {
            "id": portal_id,
            "district_id": district_id,
            "sourced_id": None,
            "content_hash": None,
            "active": True,
            "created_at": now,
            "updated_at": now,
            "role": a.role,
            # Hand-made accounts sign in with their email; ClassLink's username replaces it when
            # a sync matches the account.
            "username": a.email,
            "given_name": a.given_name,
            "family_name": a.family_name,
            "email": a.email,
            "school_sourced_ids": [a.school.sourced_id] if a.school else [],
            "school_id": a.school.id if a.school else None,
            "enabled": True,
            "manually_rostered": True,
        }
        for portal_id, a in zip(ids, accounts, strict=True)
    ]
    conn.execute(insert(educators), rows)
    _audit(conn, district_id, EntityKind.EDUCATOR, ids, actor=actor, via=via, now=now)
    return ids


def insert_student(
    conn: Connection, *, district_id: str, account: NewStudent, actor: str, now: datetime
) -> str:
    """Insert one student account made by hand, with its audit row; returns its portal id."""
    portal_id = str(uuid.uuid4())
    conn.execute(
        insert(students).values(
            id=portal_id,
            district_id=district_id,
            sourced_id=None,
            content_hash=None,
            active=True,
            created_at=now,
            updated_at=now,
            student_id=account.student_id,
            grade=account.grade,
            username=account.email or account.student_id,
            given_name=account.given_name,
            family_name=account.family_name,
            email=account.email,
            school_sourced_ids=[account.school_sourced_id] if account.school_sourced_id else [],
            school_id=account.school_id,
            enabled=True,
            manually_rostered=True,
        )
    )
    _audit(conn, district_id, EntityKind.STUDENT, [portal_id], actor=actor, via="by hand", now=now)
    return portal_id


def student_ids_in_use(conn: Connection, district_id: str, student_id: str) -> bool:
    """Whether a student of the district already has this student ID."""
    stmt = select(students.c.id).where(
        students.c.district_id == district_id, students.c.student_id == student_id
    )
    return conn.execute(stmt.limit(1)).first() is not None


def _audit(
    conn: Connection,
    district_id: str,
    kind: EntityKind,
    ids: Sequence[str],
    *,
    actor: str,
    via: str,
    now: datetime,
) -> None:
    rows: list[dict[str, Any]] = [
        {
            "district_id": district_id,
            "run_id": None,
            "actor": actor,
            "action": "create",
            "entity_type": kind.value,
            "entity_id": portal_id,
            # How the account came to be, never who it is: no names or emails in the log.
            "changes": {"via": via, "manually_rostered": True},
            "at": now,
        }
        for portal_id in ids
    ]
    conn.execute(insert(audit_log), rows)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
