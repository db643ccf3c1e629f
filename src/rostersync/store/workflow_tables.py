"""Tables for the workflow feature; they share the one `metadata` of `rostersync.store.tables`.

`sync_locks` makes one sync per district a database fact, so it holds across processes and
machines. `run_plans` keeps what a previewed, held or applied run intended, with the fingerprint
an approval is checked against. `plan_changes` lists every change a held run's plan
would make, for its review. `workflow_settings` holds a district's safeguard thresholds and
pause window. The validation-issue lifecycle's columns (`last_seen_run`, `closed_by_run`) are
defined with `validation_issues` itself, in `rostersync.store.tables`.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, Integer, String, Table, Text

from rostersync.store.tables import ID, SOURCED_ID, UtcDateTime, metadata

sync_locks = Table(
    "sync_locks",
    metadata,
    # The primary key is the lock: a second INSERT for the same district violates it.
    Column("district_id", String(ID), ForeignKey("districts.id"), primary_key=True),
    Column("run_id", String(ID), nullable=False),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Who holds it and when it last showed it was alive (`store.locks`; empty on older rows).
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("heartbeat_at", UtcDateTime, nullable=True),
)

run_plans = Table(
    "run_plans",
    metadata,
    Column("run_id", String(ID), ForeignKey("sync_runs.id"), primary_key=True),
    Column("district_id", String(ID), ForeignKey("districts.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    # Per kind: sourcedIds created/updated/matched/deactivated/restored (capped) and totals.
    Column("summary", JSON, nullable=False),
    # One short digest per planned change, for counting differences at approval (capped).
    Column("items", JSON, nullable=True),
    Column("held_reason", Text, nullable=True),
    # On an applying run: the previewed or held run it approved.
    Column("approves_run_id", String(ID), ForeignKey("sync_runs.id"), nullable=True),
    Column("decided_by", String(128), nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Index(None, "district_id"),
)

# Every change a held run's plan would make, by kind and sourcedId (`store.plan_changes`): written
# in batches in the transaction that holds the run and deleted when the run is decided, so its
# page lists them all where the summary keeps 200 of each. `section` is the order a person reviews
# them in (people first, then by change), so a page of them is a range of the primary key.
plan_changes = Table(
    "plan_changes",
    metadata,
    Column("run_id", String(ID), ForeignKey("run_plans.run_id"), primary_key=True),
    Column("section", Integer, primary_key=True),
    Column("sourced_id", String(SOURCED_ID), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("action", String(16), nullable=False),
)

workflow_settings = Table(
    "workflow_settings",
    metadata,
    Column("district_id", String(ID), ForeignKey("districts.id"), primary_key=True),
    Column("safeguards", JSON, nullable=True),
    Column("pause_start", Date, nullable=True),
    Column("pause_end", Date, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

__all__ = ["metadata", "plan_changes", "run_plans", "sync_locks", "workflow_settings"]
