"""What data-manager sign-in keeps: invitations, ClassLink grants, TOTP state, staff audit.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
Tokens that travel in links or cookies are stored only as SHA-256 hashes (`store.web.digest`);
TOTP secrets only as SecretBox ciphertext, made by the caller.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from rostersync.store.accounts import email_candidates
from rostersync.store.admin import normal_email
from rostersync.store.admin_tables import staff_sign_in_failures
from rostersync.store.signin_tables import (
    staff_audit,
    staff_invitations,
    staff_session_grants,
    staff_sign_in_codes,
    staff_totp,
)
from rostersync.store.tables import audit_log, educators, integrations
from rostersync.store.web_tables import staff_accounts


# Audit ---------------------------------------------------------------------------------------
def record_staff_change(
    conn: Connection,
    *,
    staff_id: str,
    district_id: str | None,
    actor: str,
    action: str,
    now: datetime,
    changes: dict[str, Any] | None = None,
    entity_type: str = "staff_account",
) -> None:
    """Audit a change to a staff account: always in `staff_audit`, and in the district's own
    audit log when the account belongs to a district, so its data managers see it there too."""
    conn.execute(
        insert(staff_audit).values(
            staff_id=staff_id,
            district_id=district_id,
            actor=actor,
            action=action,
            changes=changes,
            at=now,
        )
    )
    if district_id is not None:
        conn.execute(
            insert(audit_log).values(
                district_id=district_id,
                run_id=None,
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=staff_id,
                changes=changes,
                at=now,
            )
        )


# Invitations ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Invitation:
    """A one-time link for a district's data manager to set a password."""

    id: str
    district_id: str
    email: str
    expires_at: datetime
    accepted_at: datetime | None


def create_invitation(
    conn: Connection,
    *,
    token_hash: str,
    district_id: str,
    email: str,
    invited_by: str,
    now: datetime,
    lifetime: timedelta,
) -> str:
    """Store an invitation under its token's hash; returns its id."""
    invitation_id = str(uuid.uuid4())
    conn.execute(
        insert(staff_invitations).values(
            id=invitation_id,
            token_hash=token_hash,
            district_id=district_id,
            email=normal_email(email),
            invited_by=invited_by,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return invitation_id


def invitation_by_token(conn: Connection, token_hash: str) -> Invitation | None:
    t = staff_invitations
    row = conn.execute(
        select(t.c.id, t.c.district_id, t.c.email, t.c.expires_at, t.c.accepted_at).where(
            t.c.token_hash == token_hash
        )
    ).first()
    return None if row is None else Invitation(**row._mapping)


def use_invitation(conn: Connection, invitation_id: str, *, staff_id: str, now: datetime) -> bool:
    """Mark an invitation used; False when another request used it first (single use even
    when two tabs submit at once: the update only matches an unused row)."""
    t = staff_invitations
    result = conn.execute(
        update(t)
        .where(t.c.id == invitation_id, t.c.accepted_at.is_(None))
        .values(accepted_at=now, staff_id=staff_id)
    )
    return result.rowcount == 1


# ClassLink grants ----------------------------------------------------------------------------
def data_manager_for_educator(
    conn: Connection, *, district_id: str, educator_id: str
) -> tuple[str | None, str | None]:
    """Which data-manager rights a ClassLink-signed-in educator has in their own district.

    The rule (docs in `rostersync.staff.accounts`): the district must have said its emails are
    unique, the educator's rostered email must belong to exactly one active educator of the
    district, and it must be either the email of an active
    `data_manager` staff account of this same district, or listed in the district's onboarding
    answers as a data manager email.

    Returns:
        (staff account id, None) for an existing account; (None, email) when the answers list
        the email but no account exists yet; (None, None) for no rights.
    """
    answers = conn.execute(_ANSWERS, {"district_id": district_id}).first()
    if answers is None or not answers.unique_emails_provided:
        return None, None  # an email that may be shared cannot stand for one person
    email = conn.execute(
        _EDUCATOR_EMAIL, {"educator_id": educator_id, "district_id": district_id}
    ).scalar_one_or_none()
    email = normal_email(email or "")
    if "@" not in email:
        return None, None
    # Counted in Python over the candidates: SQLite's `lower` folds only ASCII letters.
    candidates = conn.execute(
        select(educators.c.email).where(
            educators.c.district_id == district_id,
            educators.c.active.is_(True),
            email_candidates(educators.c.email, email),
        )
    ).scalars()
    holders = sum(1 for found in candidates if normal_email(found) == email)
    if holders != 1:
        return None, None  # an address shared by two people proves nobody's identity
    staff = conn.execute(_STAFF_BY_EMAIL, {"email": email}).first()
    if staff is not None:
        fits = staff.role == "data_manager" and staff.district_id == district_id
        return (staff.id if fits else None), None
    if email in {normal_email(e) for e in answers.data_manager_emails or ()}:
        return None, email
    return None, None


# Built once: every educator's ClassLink sign-in runs them (building costs more than running).
_ANSWERS = select(integrations.c.unique_emails_provided, integrations.c.data_manager_emails).where(
    integrations.c.district_id == bindparam("district_id")
)
_EDUCATOR_EMAIL = select(educators.c.email).where(
    educators.c.id == bindparam("educator_id"), educators.c.district_id == bindparam("district_id")
)
_STAFF_BY_EMAIL = select(
    staff_accounts.c.id, staff_accounts.c.role, staff_accounts.c.district_id
).where(staff_accounts.c.email == bindparam("email"), staff_accounts.c.active.is_(True))


def grant_session(
    conn: Connection, *, token_hash: str, staff_id: str, district_id: str, now: datetime
) -> None:
    """Give a ClassLink session the rights of one data-manager account (until it ends)."""
    conn.execute(
        insert(staff_session_grants).values(
            token_hash=token_hash, staff_id=staff_id, district_id=district_id, created_at=now
        )
    )


def granted_staff(conn: Connection, token_hash: str) -> tuple[str, str] | None:
    """(staff id, district id) a session was granted, if any."""
    row = conn.execute(
        select(staff_session_grants.c.staff_id, staff_session_grants.c.district_id).where(
            staff_session_grants.c.token_hash == token_hash
        )
    ).first()
    return None if row is None else (row.staff_id, row.district_id)


# TOTP ----------------------------------------------------------------------------------------
def totp_ciphertext(conn: Connection, staff_id: str) -> str | None:
    """The enrolled (confirmed) TOTP secret's ciphertext, or None when TOTP is off."""
    value = conn.execute(
        select(staff_accounts.c.totp_secret_ciphertext).where(staff_accounts.c.id == staff_id)
    ).scalar_one_or_none()
    return str(value) if value else None


def pending_totp(conn: Connection, staff_id: str) -> str | None:
    value = conn.execute(
        select(staff_totp.c.pending_ciphertext).where(staff_totp.c.staff_id == staff_id)
    ).scalar_one_or_none()
    return str(value) if value else None


def _ensure_totp_row(conn: Connection, staff_id: str) -> None:
    exists = conn.execute(
        select(staff_totp.c.staff_id).where(staff_totp.c.staff_id == staff_id)
    ).first()
    if exists is None:
        conn.execute(insert(staff_totp).values(staff_id=staff_id))


def set_pending_totp(conn: Connection, staff_id: str, ciphertext: str) -> None:
    """Keep a freshly shown secret until the person confirms it with a code."""
    _ensure_totp_row(conn, staff_id)
    conn.execute(
        update(staff_totp)
        .where(staff_totp.c.staff_id == staff_id)
        .values(pending_ciphertext=ciphertext)
    )


def turn_on_totp(conn: Connection, staff_id: str, ciphertext: str, *, step: int) -> None:
    """Make the confirmed secret the account's, remembering the step that confirmed it."""
    conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == staff_id)
        .values(totp_secret_ciphertext=ciphertext)
    )
    conn.execute(
        update(staff_totp)
        .where(staff_totp.c.staff_id == staff_id)
        .values(pending_ciphertext=None, last_step=step)
    )


def turn_off_totp(conn: Connection, staff_id: str) -> bool:
    """Remove the account's TOTP secret (a reset); True when it had one."""
    had = totp_ciphertext(conn, staff_id) is not None
    conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == staff_id)
        .values(totp_secret_ciphertext=None)
    )
    conn.execute(delete(staff_totp).where(staff_totp.c.staff_id == staff_id))
    return had


def use_totp_step(conn: Connection, staff_id: str, step: int) -> bool:
    """Claim a time step whose code was right; False when it (or a later one) was used already.

    One conditional UPDATE, so two requests racing with the same code cannot both win.
    """
    _ensure_totp_row(conn, staff_id)
    result = conn.execute(
        update(staff_totp)
        .where(
            staff_totp.c.staff_id == staff_id,
            or_(staff_totp.c.last_step.is_(None), staff_totp.c.last_step < step),
        )
        .values(last_step=step)
    )
    return result.rowcount == 1


# Lockout --------------------------------------------------------------------------------------
def count_failure(
    conn: Connection, staff_id: str, *, now: datetime, limit: int, lock_for: timedelta
) -> int:
    """Count a failed password or code; at `limit` consecutive failures the account locks until
    `now + lock_for`. Returns the count.

    A lock in force is never moved: a failure while it lasts is not counted (the count is
    returned as it stands), so nobody can keep an account locked by trying during its lock. A
    lock that has ended starts the count again. The update only matches a row without a lock
    in force, so a lock set by a concurrent failure stays where it is.
    """
    t = staff_sign_in_failures
    row = conn.execute(
        select(t.c.failures, t.c.locked_until).where(t.c.staff_id == staff_id)
    ).first()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return int(row.failures)
    failures = 1 if row is None or row.locked_until is not None else row.failures + 1
    values = {
        "failures": failures,
        "last_failure_at": now,
        "locked_until": now + lock_for if failures >= limit else None,
    }
    if row is None:
        conn.execute(insert(t).values(staff_id=staff_id, **values))
        return failures
    updated = conn.execute(
        update(t)
        .where(t.c.staff_id == staff_id, or_(t.c.locked_until.is_(None), t.c.locked_until <= now))
        .values(**values)
    )
    return failures if updated.rowcount == 1 else limit


# Sign-in halfway (password right, code asked) ------------------------------------------------
def create_code_step(
    conn: Connection, *, token_hash: str, staff_id: str, next_path: str, expires_at: datetime
) -> None:
    conn.execute(
        insert(staff_sign_in_codes).values(
            token_hash=token_hash, staff_id=staff_id, next_path=next_path, expires_at=expires_at
        )
    )


def code_step(conn: Connection, token_hash: str, *, now: datetime) -> tuple[str, str] | None:
    """(staff id, next path) of a live halfway sign-in."""
    t = staff_sign_in_codes
    conn.execute(delete(t).where(t.c.expires_at <= now))
    row = conn.execute(
        select(t.c.staff_id, t.c.next_path).where(t.c.token_hash == token_hash)
    ).first()
    return None if row is None else (row.staff_id, row.next_path)


def end_code_step(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(staff_sign_in_codes).where(staff_sign_in_codes.c.token_hash == token_hash))


def end_code_steps_of(conn: Connection, staff_id: str) -> None:
    """Forget every halfway sign-in of an account (after a lock or a reset)."""
    conn.execute(delete(staff_sign_in_codes).where(staff_sign_in_codes.c.staff_id == staff_id))


__all__ = [
    "Invitation",
    "code_step",
    "count_failure",
    "create_code_step",
    "create_invitation",
    "data_manager_for_educator",
    "end_code_step",
    "end_code_steps_of",
    "grant_session",
    "granted_staff",
    "invitation_by_token",
    "pending_totp",
    "record_staff_change",
    "set_pending_totp",
    "totp_ciphertext",
    "turn_off_totp",
    "turn_on_totp",
    "use_invitation",
    "use_totp_step",
]
