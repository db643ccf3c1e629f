"""The delta-sync watermark: read it, advance it after a successful apply, and the ids a delta
may lean on.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
The watermark is the source server's `dateLastModified`, never our clock, normalised to UTC text
(`2026-09-01T12:00:00Z`) so the filter a delta sends compares like with like. A source with a
feed of changes (Clever's events) keeps its own position beside it (`FeedPosition`): every full
sync clears it in its apply, and `record_position` sets it once a run of such a source succeeded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from rostersync.domain.records import EntityKind
from rostersync.store.delta_tables import delta_watermarks
from rostersync.store.roster import select_active
from rostersync.store.tables import ROSTER_TABLES

__all__ = [
    "FeedPosition",
    "Watermark",
    "active_sourced_ids",
    "advance_watermark",
    "forget_full_sync",
    "format_modified",
    "get_watermark",
    "parse_modified",
    "record_position",
    "relinking",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedPosition:
    """Where a source's feed of changes stood: what the applied roster already reflects.

    Attributes:
        cursor: The newest event seen (a Clever event id), or None when the feed was empty.
        read_at: When the position was read: for a full sync, before its pull began.
    """

    cursor: str | None
    read_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Watermark:
    """Where a district's next delta starts.

    Attributes:
        district_id: The district.
        watermark: The newest `dateLastModified` applied (UTC text), or None if no pull saw one.
        last_full_sync_at: When a full sync last succeeded; None means a delta must not run yet.
        updated_at: When the row last moved.
        position: Where a feed of changes continues, or None when no run of a feed source
            recorded one since the last full sync.
    """

    district_id: str
    watermark: str | None
    last_full_sync_at: datetime | None
    updated_at: datetime
    position: FeedPosition | None = None

    @property
    def moment(self) -> datetime | None:
        """The watermark as an aware datetime."""
        return parse_modified(self.watermark) if self.watermark else None


def parse_modified(value: str | None) -> datetime | None:
    """Read a OneRoster `dateLastModified` as an aware UTC datetime; None if absent or unreadable.

    Accepts `Z` or an offset, fractional seconds, and a bare date (taken as midnight UTC), the
    shapes real servers send. A naive timestamp is taken as UTC.
    """
    if not value or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_modified(moment: datetime) -> str:
    """UTC text in the shape OneRoster servers send and compare: `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def newest_of(stamps: Iterable[str | None]) -> str | None:
    """The newest of some `dateLastModified` stamps (normalised), or None when there are none."""
    # Parsing each distinct stamp once: real pulls repeat stamps heavily (bulk SIS updates).
    moments = [m for m in map(parse_modified, {s for s in stamps if s}) if m is not None]
    return format_modified(max(moments)) if moments else None


def get_watermark(conn: Connection, district_id: str) -> Watermark | None:
    """The district's watermark row, or None before its first successful sync."""
    row = conn.execute(
        select(delta_watermarks).where(delta_watermarks.c.district_id == district_id)
    ).first()
    if row is None:
        return None
    read_at = row.event_cursor_read_at
    return Watermark(
        district_id=row.district_id,
        watermark=row.watermark,
        last_full_sync_at=row.last_full_sync_at,
        updated_at=row.updated_at,
        position=None
        if read_at is None
        else FeedPosition(cursor=row.event_cursor, read_at=read_at),
    )


def advance_watermark(
    conn: Connection,
    *,
    district_id: str,
    seen: str | None,
    full: bool,
    now: datetime,
) -> Watermark | None:
    """Move the watermark after a successful apply, in the apply's own transaction.

    A full sync sets it to the newest stamp it saw (the whole roster is the truth, even if that
    is older than before) and clears the feed position: whichever source pulled, the position of
    an earlier one is not where this roster stands (a feed source records its own right after,
    `record_position`). A delta only ever moves it forward: its overlap window re-reads older
    records, and a pull that saw nothing leaves it where it was.

    Args:
        conn: A connection in the transaction that applied the run.
        district_id: The district.
        seen: The newest `dateLastModified` of the pull (`newest_of`), None if none.
        full: True for a full sync: it also records `last_full_sync_at`.
        now: The apply's timestamp.

    Returns:
        The watermark after the change (None when a delta ran on a district without one, which
        `sync.delta` refuses before pulling).
    """
    current = get_watermark(conn, district_id)
    if current is None:
        if not full:
            return None
        conn.execute(
            delta_watermarks.insert().values(
                district_id=district_id, watermark=seen, last_full_sync_at=now, updated_at=now
            )
        )
        return get_watermark(conn, district_id)
    values: dict[str, object] = {"updated_at": now}
    if full:
        values.update(
            watermark=seen, last_full_sync_at=now, event_cursor=None, event_cursor_read_at=None
        )
    else:
        before, after = current.moment, parse_modified(seen)
        if after is not None and (before is None or after > before):
            values["watermark"] = seen
    conn.execute(
        update(delta_watermarks)
        .where(delta_watermarks.c.district_id == district_id)
        .values(**values)
    )
    return get_watermark(conn, district_id)


def record_position(
    conn: Connection, *, district_id: str, position: FeedPosition, now: datetime
) -> bool:
    """Keep where a feed source's next delta continues, after its run was applied.

    Written after the run's own transaction (the pipeline knows no feeds), so it can only lag
    what was applied, never run ahead of it: a position lost to a crash makes the next delta
    re-read events already applied, which plan as unchanged.

    Returns:
        False when the district has no watermark row (no full sync ever succeeded): nothing is
        written, since a delta must not build on a roster that was never whole.
    """
    done = conn.execute(
        update(delta_watermarks)
        .where(delta_watermarks.c.district_id == district_id)
        .values(event_cursor=position.cursor, event_cursor_read_at=position.read_at, updated_at=now)
    )
    return bool(done.rowcount)


def forget_full_sync(conn: Connection, district_id: str, *, now: datetime) -> None:
    """The district's source changed kind: no full sync of the new source has succeeded yet.

    Until one does, a delta is refused (it would build on another source's ids, watermark or
    feed) and every account is a candidate for matching (`relinking`).
    """
    conn.execute(
        update(delta_watermarks)
        .where(delta_watermarks.c.district_id == district_id)
        .values(
            watermark=None,
            last_full_sync_at=None,
            event_cursor=None,
            event_cursor_read_at=None,
            updated_at=now,
        )
    )


def relinking(conn: Connection, district_id: str) -> bool:
    """True until a full sync from the district's current source has succeeded: its people may
    then claim accounts linked to another source's ids (a district that moved providers)."""
    mark = get_watermark(conn, district_id)
    return mark is None or mark.last_full_sync_at is None


def active_sourced_ids(
    conn: Connection, district_id: str, kinds: Iterable[EntityKind] | None = None
) -> dict[EntityKind, set[str]]:
    """The sourcedIds of every active record the portal holds, per kind (of `kinds`, or of
    every kind but enrollments): what a pull's records may reference without sending it (no
    record references an enrollment, and a big district holds millions). One streamed SELECT
    per kind."""
    known: dict[EntityKind, set[str]] = {}
    wanted = [k for k in EntityKind if k is not EntityKind.ENROLLMENT] if kinds is None else kinds
    for kind in wanted:
        table = ROSTER_TABLES[kind]
        stmt = select_active(table, district_id, table.c.sourced_id)
        known[kind] = {sid for (sid,) in conn.execute(stmt)}
    return known
