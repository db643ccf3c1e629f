"""Push credentials and pushed bundles: the store side of districts that push OneRoster files.

A district that cannot give us ClassLink credentials pushes CSV bundles to
`POST /api/v1/districts/<slug>/bundles` with a key and secret we issue it. The key id is public
(`rsk_…`, the HTTP Basic user name); the secret (`rss_…`, 256 random bits) is shown once when it
is issued or rotated and is kept only as a `SecretBox` token. Checking a secret decrypts the
stored one and compares in constant time, so neither the comparison nor the stored form gives it
away. Rotation replaces both the key id and the secret in the same row: the old pair stops
working in the same transaction.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from rostersync.errors import ConfigError, NotFoundError
from rostersync.store.push_tables import push_credentials, pushed_bundles
from rostersync.store.secrets import SecretBox

KEY_PREFIX = "rsk_"
SECRET_PREFIX = "rss_"  # noqa: S105 - a prefix that marks a push secret, not a secret
# A bundle in one of these has not finished: a second push waits for it.
UNFINISHED = ("queued", "running")
# A held bundle ends when a person decides its run: approved (succeeded) or discarded.
FINISHED = ("succeeded", "failed", "held", "discarded")
BUNDLE_STATUSES = (*UNFINISHED, *FINISHED)


@dataclass(frozen=True, slots=True, kw_only=True)
class PushKey:
    """A district's push key id and when it was issued or last rotated; never the secret."""

    district_id: str
    key_id: str
    issued_at: datetime
    rotated_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PushedBundle:
    """One bundle a district pushed, and how its sync went."""

    id: str
    district_id: str
    sha256: str
    size: int
    received_at: datetime
    status: str
    run_id: str | None
    error: str | None
    finished_at: datetime | None


def new_pair() -> tuple[str, str]:
    """A fresh (key id, secret): the key id is 96 random bits, the secret 256."""
    return KEY_PREFIX + secrets.token_hex(12), SECRET_PREFIX + secrets.token_urlsafe(32)


def get_key(conn: Connection, district_id: str) -> PushKey | None:
    """The district's push key (without its secret), or None if none was issued."""
    row = conn.execute(
        select(
            push_credentials.c.district_id,
            push_credentials.c.key_id,
            push_credentials.c.issued_at,
            push_credentials.c.rotated_at,
        ).where(push_credentials.c.district_id == district_id)
    ).first()
    return None if row is None else PushKey(**row._mapping)


def issue(
    conn: Connection, box: SecretBox, district_id: str, *, slug: str, now: datetime
) -> tuple[str, str]:
    """Issue the district's first push key and secret.

    Returns:
        (key id, secret); the secret cannot be read back afterwards.

    Raises:
        ConfigError: The district already has a push key (rotate it instead).
    """
    if get_key(conn, district_id) is not None:
        raise ConfigError(
            f"district {slug!r} already has a push key; rotate it to get a new secret "
            f"(`rostersync push-key rotate {slug}`), which stops the old one at once"
        )
    key_id, secret = new_pair()
    conn.execute(
        insert(push_credentials).values(
            district_id=district_id,
            key_id=key_id,
            secret_ciphertext=box.encrypt(secret),
            issued_at=now,
            rotated_at=None,
        )
    )
    return key_id, secret


def rotate(
    conn: Connection, box: SecretBox, district_id: str, *, slug: str, now: datetime
) -> tuple[str, str]:
    """Replace the district's push key and secret; the old pair stops working at once.

    Returns:
        (new key id, new secret); the secret cannot be read back afterwards.

    Raises:
        NotFoundError: The district has no push key yet (issue one first).
    """
    key_id, secret = new_pair()
    done = conn.execute(
        update(push_credentials)
        .where(push_credentials.c.district_id == district_id)
        .values(key_id=key_id, secret_ciphertext=box.encrypt(secret), rotated_at=now)
    )
    if done.rowcount != 1:
        raise NotFoundError(
            f"district {slug!r} has no push key to rotate; issue one first "
            f"(`rostersync push-key issue {slug}`)"
        )
    return key_id, secret


def district_for(conn: Connection, box: SecretBox, key_id: str, secret: str) -> str | None:
    """The id of the district whose push key id and secret these are, or None.

    The key id is public, so looking it up by value leaks nothing; the secret is compared in
    constant time, and an unknown key id still costs one comparison.
    """
    row = conn.execute(
        select(push_credentials.c.district_id, push_credentials.c.secret_ciphertext).where(
            push_credentials.c.key_id == key_id
        )
    ).first()
    expected = box.decrypt(row.secret_ciphertext) if row is not None else new_pair()[1]
    matches = hmac.compare_digest(expected.encode("utf-8"), secret.encode("utf-8"))
    return str(row.district_id) if row is not None and matches else None


# Pushed bundles ------------------------------------------------------------------------------
_BUNDLE_COLUMNS = [pushed_bundles.c[name] for name in PushedBundle.__dataclass_fields__]


def new_bundle_id() -> str:
    """An id for a bundle about to be stored (the file is named after it before its row exists)."""
    return str(uuid.uuid4())


def insert_bundle(
    conn: Connection, *, bundle_id: str, district_id: str, sha256: str, size: int, now: datetime
) -> None:
    """Record a stored bundle under the id its file was named with, as queued."""
    conn.execute(
        insert(pushed_bundles).values(
            id=bundle_id,
            district_id=district_id,
            sha256=sha256,
            size=size,
            received_at=now,
            status="queued",
        )
    )


def get_bundle(conn: Connection, bundle_id: str, *, district_id: str | None = None) -> PushedBundle:
    """A pushed bundle, optionally only if it belongs to `district_id`.

    Raises:
        NotFoundError: No such bundle (in that district).
    """
    query = select(*_BUNDLE_COLUMNS).where(pushed_bundles.c.id == bundle_id)
    if district_id is not None:
        query = query.where(pushed_bundles.c.district_id == district_id)
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(
            f"no pushed bundle {bundle_id!r} for this district; the push response gave its id"
        )
    return PushedBundle(**row._mapping)


def newest_bundle(conn: Connection, district_id: str) -> PushedBundle | None:
    """The district's most recently received bundle, or None if it never pushed one."""
    row = conn.execute(
        select(*_BUNDLE_COLUMNS)
        .where(pushed_bundles.c.district_id == district_id)
        .order_by(pushed_bundles.c.received_at.desc(), pushed_bundles.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else PushedBundle(**row._mapping)


def unfinished_bundle(conn: Connection, district_id: str) -> PushedBundle | None:
    """A bundle of the district still queued or running, or None."""
    row = conn.execute(
        select(*_BUNDLE_COLUMNS)
        .where(
            pushed_bundles.c.district_id == district_id,
            pushed_bundles.c.status.in_(UNFINISHED),
        )
        .order_by(pushed_bundles.c.received_at)
        .limit(1)
    ).first()
    return None if row is None else PushedBundle(**row._mapping)


def set_status(
    conn: Connection,
    bundle_id: str,
    status: str,
    *,
    now: datetime,
    run_id: str | None = None,
    error: str | None = None,
) -> None:
    """Move a bundle along: running, then succeeded, failed or held (with its run)."""
    if status not in BUNDLE_STATUSES:
        raise ValueError(f"bundle status {status!r} is not one of {BUNDLE_STATUSES}")
    values: dict[str, object] = {"status": status}
    if run_id is not None:
        values["run_id"] = run_id
    if status in FINISHED:
        values["finished_at"] = now
        values["error"] = error
    conn.execute(update(pushed_bundles).where(pushed_bundles.c.id == bundle_id).values(**values))


def settle_held(
    conn: Connection, *, held_run_id: str, status: str, now: datetime, run_id: str | None = None
) -> None:
    """A person decided the held run of a bundle (if a bundle's run it was): it `succeeded`,
    applied by `run_id`, or was `discarded`."""
    if status not in ("succeeded", "discarded"):
        raise ValueError(f"a held bundle is settled as succeeded or discarded, not {status!r}")
    values: dict[str, object] = {"status": status, "finished_at": now}
    if run_id is not None:
        values["run_id"] = run_id
    conn.execute(
        update(pushed_bundles)
        .where(pushed_bundles.c.run_id == held_run_id, pushed_bundles.c.status == "held")
        .values(**values)
    )


def claim(conn: Connection, bundle_id: str) -> bool:
    """Mark a queued bundle running; False if it was not queued (already taken or finished)."""
    done = conn.execute(
        update(pushed_bundles)
        .where(pushed_bundles.c.id == bundle_id, pushed_bundles.c.status == "queued")
        .values(status="running")
    )
    return done.rowcount == 1


def release(conn: Connection, bundle_id: str) -> None:
    """Put a running bundle back in the queue (its district was busy with another sync)."""
    conn.execute(
        update(pushed_bundles)
        .where(pushed_bundles.c.id == bundle_id, pushed_bundles.c.status == "running")
        .values(status="queued")
    )


def bundles_received_before(conn: Connection, before: datetime) -> list[PushedBundle]:
    """Every bundle received before `before` that is no longer queued or running."""
    rows = conn.execute(
        select(*_BUNDLE_COLUMNS).where(
            pushed_bundles.c.received_at < before,
            pushed_bundles.c.status.not_in(UNFINISHED),
        )
    )
    return [PushedBundle(**row._mapping) for row in rows]


def unfinished_ids(conn: Connection) -> set[str]:
    """The ids of every bundle still queued or running (its file must stay)."""
    rows = conn.execute(select(pushed_bundles.c.id).where(pushed_bundles.c.status.in_(UNFINISHED)))
    return {str(row.id) for row in rows}
