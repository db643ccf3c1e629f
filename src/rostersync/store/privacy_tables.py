"""Tables for data disposal; they share the one `metadata` of `rostersync.store.tables`.

`disposals`            one row per district purged at contract end: who asked, when, and how many
                       rows of each table and how many files were removed. Counts only, and no
                       foreign key: it outlives the district it records.
`audit_purge_permits`  a row exists only inside a purge's transaction. The append-only triggers on
                       `audit_log` (migration 0011) refuse every UPDATE, and every DELETE unless
                       the row's district holds a permit, so nothing but a purge removes audit rows.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text

from rostersync.store.tables import ID, UtcDateTime, metadata

disposals = Table(
    "disposals",
    metadata,
    Column("id", String(ID), primary_key=True),
    # Not a foreign key, and not named district_id: the district it names is gone.
    Column("purged_district_id", String(ID), nullable=False),
    Column("district_slug", String(63), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    # {"students": 3000, "audit_log": 41000, ...}: rows removed per table.
    Column("rows", JSON, nullable=False),
    Column("files", JSON, nullable=False),
)

audit_purge_permits = Table(
    "audit_purge_permits",
    metadata,
    Column("district_id", String(ID), ForeignKey("districts.id"), primary_key=True),
)

__all__ = ["audit_purge_permits", "disposals", "metadata"]
