"""Tables for the delta feature; they share the one `metadata` of `rostersync.store.tables`.

`delta_watermarks` holds one row per district: the newest `dateLastModified` a successful sync
applied, which the next delta pull filters from (less a small overlap window). The watermark is
the source server's clock, never ours, so it is kept as the ISO 8601 text the filter compares
against. See docs/decisions/0009-delta-sync.md.
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
    Column("updated_at", UtcDateTime, nullable=False),
)

__all__ = ["delta_watermarks", "metadata"]
