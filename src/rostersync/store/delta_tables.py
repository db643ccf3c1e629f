"""Tables for the delta feature; they share the one `metadata` of `rostersync.store.tables`.

`delta_watermarks` holds one row per district: the newest `dateLastModified` a successful sync
applied, which the next delta pull filters from (less a small overlap window). The watermark is
the source server's clock, never ours, so it is kept as the ISO 8601 text the filter compares
against. See docs/decisions/0009-delta-sync.md.

A source with a feed of changes (Clever's Events API) continues from a position in that feed
instead: `event_cursor` is the newest event the applied roster already reflects, and
`event_cursor_read_at` when that position was read. See docs/decisions/0043.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table

from rostersync.store.tables import ID, UtcDateTime, metadata

delta_watermarks = Table(
    "delta_watermarks",
    metadata,
    Column("district_id", String(ID), ForeignKey("districts.id"), primary_key=True),
    # Normalised UTC text, e.g. 2026-09-01T12:00:00Z; NULL until a pull saw any timestamp.
    Column("watermark", String(40), nullable=True),
    # When a full sync last succeeded; a delta needs one to build on.
    Column("last_full_sync_at", UtcDateTime, nullable=True),
    # The newest change-feed event (a Clever event id) the applied roster reflects; NULL with a
    # read time means the feed was empty then (read it from its start).
    Column("event_cursor", String(64), nullable=True),
    # When that position was read (before the pull began); NULL: no position, a delta from the
    # feed needs a full sync first. Every full sync clears both; a feed source sets them again.
    Column("event_cursor_read_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

__all__ = ["delta_watermarks", "metadata"]
