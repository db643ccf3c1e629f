"""Run progress: what a running sync is doing now, recorded while it runs, for the run page.

The functions take a `Connection` whose transaction the caller owns, like every other store
module. The pipeline's `sync.recorder.ProgressRecorder` hears the run's events and writes them
here. Phases only move forward: pulling → validating → planning → writing → done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from rostersync.store.progress_tables import PHASES, run_progress


@dataclass(frozen=True, slots=True, kw_only=True)
class RunProgress:
    """A run's last recorded progress."""

    run_id: str
    district_id: str
    phase: str
    collection: str | None
    records: dict[str, int] = field(default_factory=dict)
    updated_at: datetime

    @property
    def total(self) -> int:
        """Records pulled so far, every collection together."""
        return sum(self.records.values())


def save_progress(
    conn: Connection,
    *,
    run_id: str,
    district_id: str,
    phase: str,
    collection: str | None,
    records: dict[str, int],
    now: datetime,
) -> None:
    """Record a run's progress, replacing what was recorded before: one statement, an upsert.

    Raises:
        ValueError: `phase` is not one of `PHASES`.
    """
    if phase not in PHASES:
        raise ValueError(f"phase {phase!r} is not one of {', '.join(PHASES)}")
    values = {"phase": phase, "collection": collection, "records": records, "updated_at": now}
    upsert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = upsert(run_progress).values(run_id=run_id, district_id=district_id, **values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[run_progress.c.run_id],
            set_={name: statement.excluded[name] for name in values},
        )
    )


def get_progress(conn: Connection, run_id: str) -> RunProgress | None:
    """A run's last recorded progress, or None if it recorded none (or ran before it could)."""
    row = conn.execute(select(run_progress).where(run_progress.c.run_id == run_id)).first()
    if row is None:
        return None
    return RunProgress(
        run_id=row.run_id,
        district_id=row.district_id,
        phase=row.phase,
        collection=row.collection,
        records={str(k): int(v) for k, v in (row.records or {}).items()},
        updated_at=row.updated_at,
    )


__all__ = ["RunProgress", "get_progress", "save_progress"]
