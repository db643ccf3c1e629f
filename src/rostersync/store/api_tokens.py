"""What personal API tokens keep: each token's hash, label, prefix and when it was made, last
used and revoked.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
The tokens themselves are made, hashed and checked by `rostersync.staff.api_tokens`; this module
only stores and finds their hashes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection

from rostersync.store.api_tokens_tables import staff_api_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiTokenRow:
    """One stored token: never the token itself, only its hash."""

    id: str
    staff_id: str
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    token_hash: str = field(repr=False)


_COLUMNS = [staff_api_tokens.c[name] for name in ApiTokenRow.__dataclass_fields__]


def create_token(
    conn: Connection, *, staff_id: str, label: str, token_hash: str, prefix: str, now: datetime
) -> str:
    """Store a new token's hash; returns the token's id."""
    token_id = str(uuid.uuid4())
    conn.execute(
        insert(staff_api_tokens).values(
            id=token_id,
            staff_id=staff_id,
            label=label,
            token_hash=token_hash,
            prefix=prefix,
            created_at=now,
        )
    )
    return token_id


def token_by_hash(conn: Connection, token_hash: str) -> ApiTokenRow | None:
    """The token stored under this hash, revoked or not."""
    row = conn.execute(select(*_COLUMNS).where(staff_api_tokens.c.token_hash == token_hash)).first()
    return None if row is None else ApiTokenRow(**row._mapping)


def tokens_of(conn: Connection, staff_id: str) -> list[ApiTokenRow]:
    """A staff member's tokens, newest first, revoked ones included."""
    rows = conn.execute(
        select(*_COLUMNS)
        .where(staff_api_tokens.c.staff_id == staff_id)
        .order_by(staff_api_tokens.c.created_at.desc(), staff_api_tokens.c.id)
    )
    return [ApiTokenRow(**row._mapping) for row in rows]


def count_active(conn: Connection, staff_id: str) -> int:
    """How many of a staff member's tokens are not revoked."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(staff_api_tokens)
            .where(staff_api_tokens.c.staff_id == staff_id, staff_api_tokens.c.revoked_at.is_(None))
        ).scalar_one()
    )


def revoke(
    conn: Connection, *, token_id: str, staff_id: str | None, now: datetime
) -> ApiTokenRow | None:
    """Revoke a token, only if it is `staff_id`'s (anyone's for None); the token as it was, or
    None when there is no such token or it was revoked already (nothing changes then)."""
    wanted = [staff_api_tokens.c.id == token_id, staff_api_tokens.c.revoked_at.is_(None)]
    if staff_id is not None:
        wanted.append(staff_api_tokens.c.staff_id == staff_id)
    row = conn.execute(select(*_COLUMNS).where(*wanted)).first()
    if row is None:
        return None
    done = conn.execute(
        update(staff_api_tokens)
        .where(staff_api_tokens.c.id == token_id, staff_api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return ApiTokenRow(**row._mapping) if done.rowcount == 1 else None


def touch(conn: Connection, token_id: str, *, now: datetime, older_than: datetime) -> bool:
    """Record a use of the token, unless one at or after `older_than` is recorded already;
    whether this call wrote it."""
    done = conn.execute(
        update(staff_api_tokens)
        .where(
            staff_api_tokens.c.id == token_id,
            or_(
                staff_api_tokens.c.last_used_at.is_(None),
                staff_api_tokens.c.last_used_at < older_than,
            ),
        )
        .values(last_used_at=now)
    )
    return done.rowcount == 1


__all__ = [
    "ApiTokenRow",
    "count_active",
    "create_token",
    "revoke",
    "token_by_hash",
    "tokens_of",
    "touch",
]
