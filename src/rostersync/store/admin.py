"""What the admin feature keeps and reads: staff accounts, failed sign-ins, district overviews.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
Password hashes are produced and checked by `rostersync.staff.accounts`; this module only stores
them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rostersync.errors import ConfigError
from rostersync.store.admin_tables import staff_sign_in_failures
from rostersync.store.districts import DistrictRecord
from rostersync.store.tables import sync_runs, validation_issues
from rostersync.store.web_tables import staff_accounts, web_sessions

ROLES = ("vendor_staff", "data_manager")


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffAccount:
    """A vendor staff member or district data manager with a local account."""

    id: str
    email: str
    display_name: str
    role: str
    district_id: str | None
    active: bool
    password_hash: str = field(repr=False)


def normal_email(email: str) -> str:
    """The form an email is stored and looked up in."""
    return email.strip().lower()


def create_staff(
    conn: Connection,
    *,
    email: str,
    display_name: str,
    role: str,
    district_id: str | None,
    password_hash: str,
    now: datetime,
) -> str:
    """Store a new staff account; returns its id.

    Raises:
        ConfigError: The email is taken, or the role and district do not fit together.
    """
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if (role == "data_manager") != (district_id is not None):
        raise ConfigError(
            "a data manager needs exactly one district (--district <slug>); vendor staff have none"
        )
    staff_id = str(uuid.uuid4())
    try:
        with conn.begin_nested():
            conn.execute(
                insert(staff_accounts).values(
                    id=staff_id,
                    email=normal_email(email),
                    display_name=display_name.strip(),
                    password_hash=password_hash,
                    role=role,
                    district_id=district_id,
                    active=True,
                    created_at=now,
                )
            )
    except IntegrityError:
        raise ConfigError(
            "a staff account with this email already exists; choose another email"
        ) from None
    return staff_id


_STAFF_COLUMNS = [staff_accounts.c[name] for name in StaffAccount.__dataclass_fields__]


def staff_by_email(conn: Connection, email: str) -> StaffAccount | None:
    row = conn.execute(
        select(*_STAFF_COLUMNS).where(staff_accounts.c.email == normal_email(email))
    ).first()
    return None if row is None else StaffAccount(**row._mapping)


def staff_by_id(conn: Connection, staff_id: str) -> StaffAccount | None:
    row = conn.execute(select(*_STAFF_COLUMNS).where(staff_accounts.c.id == staff_id)).first()
    return None if row is None else StaffAccount(**row._mapping)


def set_password_hash(conn: Connection, staff_id: str, password_hash: str) -> None:
    """Replace a hash (argon2 rehash on sign-in when its parameters were raised)."""
    conn.execute(
        update(staff_accounts)
        .where(staff_accounts.c.id == staff_id)
        .values(password_hash=password_hash)
    )


# Lockout -------------------------------------------------------------------------------------
def locked_until(conn: Connection, staff_id: str, *, now: datetime) -> datetime | None:
    """When the account's lock ends, if it is locked now."""
    until = conn.execute(
        select(staff_sign_in_failures.c.locked_until).where(
            staff_sign_in_failures.c.staff_id == staff_id
        )
    ).scalar_one_or_none()
    return until if until is not None and until > now else None


def clear_failures(conn: Connection, staff_id: str) -> None:
    conn.execute(
        delete(staff_sign_in_failures).where(staff_sign_in_failures.c.staff_id == staff_id)
    )


# Sessions ------------------------------------------------------------------------------------
def create_staff_session(
    conn: Connection,
    *,
    token_hash: str,
    csrf_token: str,
    staff: StaffAccount,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Store a signed-in staff session in the portal's one session table (kind "staff")."""
    conn.execute(
        insert(web_sessions).values(
            token_hash=token_hash,
            district_id=staff.district_id,
            person_kind="staff",
            person_id=staff.id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + lifetime,
        )
    )


# District overview ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class DistrictOverview:
    """A district as the admin list shows it."""

    district: DistrictRecord
    last_run_status: str | None
    last_run_at: datetime | None
    next_sync_at: datetime | None
    open_issues: int


def last_runs(conn: Connection, district_ids: Sequence[str]) -> dict[str, tuple[str, datetime]]:
    """(status, started_at) of each district's newest run: one query for all districts."""
    if not district_ids:
        return {}
    newest = (
        select(sync_runs.c.district_id, func.max(sync_runs.c.started_at).label("at"))
        .where(sync_runs.c.district_id.in_(list(district_ids)))
        .group_by(sync_runs.c.district_id)
        .subquery()
    )
    rows = conn.execute(
        select(sync_runs.c.district_id, sync_runs.c.status, sync_runs.c.started_at).join(
            newest,
            (newest.c.district_id == sync_runs.c.district_id)
            & (newest.c.at == sync_runs.c.started_at),
        )
    )
    return {r.district_id: (r.status, r.started_at) for r in rows}


def open_issue_counts(conn: Connection, district_ids: Sequence[str]) -> dict[str, int]:
    """Open validation issues per district: one query for all districts."""
    if not district_ids:
        return {}
    t = validation_issues
    rows = conn.execute(
        select(t.c.district_id, func.count())
        .where(t.c.district_id.in_(list(district_ids)), t.c.status == "open")
        .group_by(t.c.district_id)
    )
    return {district_id: int(count) for district_id, count in rows}


__all__ = [
    "ROLES",
    "DistrictOverview",
    "StaffAccount",
    "clear_failures",
    "create_staff",
    "create_staff_session",
    "last_runs",
    "locked_until",
    "normal_email",
    "open_issue_counts",
    "set_password_hash",
    "staff_by_email",
    "staff_by_id",
]
