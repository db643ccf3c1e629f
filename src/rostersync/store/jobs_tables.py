"""Tables for the jobs feature; they share the one `metadata` of `rostersync.store.tables`.

`sync_slots` holds one row per (district, scheduled instant): inserting it is how a scheduler
tick enqueues a due sync exactly once, and moving it to `running` is how one worker claims it.
The partial unique index lets at most one slot per district be `running` at a time, on SQLite
and PostgreSQL alike, whichever machine asks. `district_jobs` holds a district's quarantine.
See docs/decisions/0007-job-queue.md.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from rostersync.store.tables import ID, UtcDateTime, metadata

SLOT_STATUSES = ("queued", "running", "finished")

sync_slots = Table(
    "sync_slots",
    metadata,
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=False),
    # The scheduled instant (UTC) this sync is for; with the district, the slot's identity.
    Column("due_slot", UtcDateTime, nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    # The sync run of the latest attempt, and how the slot ended (the run's status, or why not).
    Column("run_id", String(ID), nullable=True),
    Column("outcome", String(32), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # host:pid of the worker holding the claim; its lease must be renewed or it is reaped.
    Column("worker", String(255), nullable=True),
    Column("enqueued_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("district_id", "due_slot"),
    CheckConstraint("status IN ('queued', 'running', 'finished')", name="status"),
    Index(
        "uq_sync_slots_one_running_per_district",
        "district_id",
        unique=True,
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
    Index(None, "status", "lease_expires_at"),
)

district_jobs = Table(
    "district_jobs",
    metadata,
    Column("district_id", String(ID), ForeignKey("districts.id"), primary_key=True),
    Column("quarantined_at", UtcDateTime, nullable=True),
    Column("quarantine_reason", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

__all__ = ["SLOT_STATUSES", "district_jobs", "metadata", "sync_slots"]
