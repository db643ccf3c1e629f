"""Tables for run progress; they share the one `metadata` of `rostersync.store.tables`.

`run_progress` holds one row per run: the phase it is in and how many records of each
collection it has pulled so far. It is written in short transactions of its own while the run is
going (the run's own writes stay in one transaction at the end), so a person watching the run
page sees it move. Counts only: never a record, a name or a filter.
"""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, String, Table

from rostersync.store.tables import ID, UtcDateTime, metadata

PHASES = ("pulling", "validating", "planning", "writing", "done")

run_progress = Table(
    "run_progress",
    metadata,
    Column("run_id", String(ID), ForeignKey("sync_runs.id"), primary_key=True),
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=False),
    Column("phase", String(16), nullable=False),
    # The collection being pulled now (None once the pull is over).
    Column("collection", String(64), nullable=True),
    # Records pulled so far per collection, e.g. {"orgs": 12, "users": 4000}.
    Column("records", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "phase IN ('pulling', 'validating', 'planning', 'writing', 'done')", name="phase"
    ),
    # A district's rows are found by index, like every district-scoped table's.
    Index(None, "district_id"),
)

__all__ = ["PHASES", "metadata", "run_progress"]
