"""How a run ends: its failure recorded (even while the database is away), its observers told;
and a run that never pulled (a pause window) recorded as skipped.

A failure is recorded on the run even while the portal database is briefly away (retried with
backoff for `store.locks.RECORD_FOR_SECONDS`); a database that went away mid-run becomes one
`DatabaseUnavailable` line for the person, never a traceback or the statement that failed (its
values may be pupils' names). See docs/decisions/0020.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import structlog
from sqlalchemy.engine import Engine

from rostersync.errors import DatabaseUnavailable, RosterSyncError
from rostersync.store import locks as store_locks
from rostersync.store import runs as store_runs
from rostersync.store.db import SYNC_WRITER_WAIT_SECONDS, for_writing
from rostersync.sync.events import (
    Mode,
    Observer,
    Phase,
    PhaseChanged,
    RunFailed,
    RunFinished,
    RunStatus,
    failure_kind,
)
from rostersync.sync.report import SyncReport
from rostersync.sync.sources import RosterSource

log = structlog.get_logger(__name__)

T = TypeVar("T")


def record_failure(
    engine: Engine,
    run_id: str,
    *,
    counts: dict[str, object],
    error: str | None,
    record_for: float = store_locks.RECORD_FOR_SECONDS,
) -> bool:
    """Mark a run failed, retrying while the database is away. Never raises.

    Returns:
        False when the database stayed away for `record_for` seconds: the run is left
        `running`, and the next sync of the district, finding its holder gone, marks it
        abandoned.
    """
    writer = for_writing(engine, wait_seconds=SYNC_WRITER_WAIT_SECONDS)

    def record() -> None:
        with writer.begin() as conn:
            store_runs.finish_run(
                conn, run_id, status="failed", counts=counts, error=error, now=datetime.now(UTC)
            )

    try:
        store_locks.retry_for(record_for, "record a failed run", record)
    except store_locks.UNAVAILABLE as exc:
        log.error("sync.failure_not_recorded", run_id=run_id, error_type=type(exc).__name__)
        return False
    return True


# What SQLite says (never a value of the roster) → what the person checks.
_SQLITE_CAUSES = {
    "database is locked": "its file stayed locked by another writer",
    "readonly database": "its file cannot be written (read-only, or a full disk)",
    "disk i/o error": "its file cannot be read or written (disk error)",
}


def unavailable(exc: Exception) -> DatabaseUnavailable:
    """The one-line error for a database that went away; never the statement or its values."""
    said = str(getattr(exc, "orig", "") or "").lower()
    why = next((cause for known, cause in _SQLITE_CAUSES.items() if known in said), None)
    if why is not None:
        return DatabaseUnavailable(
            f"the portal database could not be written during the sync: {why}; nothing was "
            "written. Fix that, then sync again"
        )
    return DatabaseUnavailable(
        f"the portal database stopped answering during the sync ({type(exc).__name__}); "
        "nothing was written. Check that the database is up, then sync again"
    )


def on_database(action: Callable[[], T]) -> T:
    """Run `action`; a database that does not answer becomes `DatabaseUnavailable`."""
    try:
        return action()
    except store_locks.UNAVAILABLE as exc:
        raise unavailable(exc) from exc


class Ending:
    """The end of one run: records how it failed, and tells its observers that it ended."""

    def __init__(
        self,
        engine: Engine,
        report: SyncReport,
        source: RosterSource,
        started: float,
        tell: Observer,
    ) -> None:
        self.engine = engine
        self.report = report
        self.source = source
        self.started = started
        self.tell = tell

    def failed(self, exc: BaseException) -> None:
        """Mark the run failed with what `exc` says (a programming error as an internal one)."""
        report, stats = self.report, self.source.stats
        report.status = RunStatus.FAILED
        if isinstance(exc, RosterSyncError):
            report.error = str(exc)
        else:
            report.error = f"internal error: {exc!r}"
        report.requests = stats.requests
        report.retries = stats.retries
        report.records_pulled = dict(stats.records)
        report.seconds = time.monotonic() - self.started
        record_failure(
            self.engine, report.run_id, counts=report.as_counts_json(), error=report.error
        )
        self.tell(RunFailed(report.run_id, failure_kind(exc), report.error))

    def finished(self) -> None:
        """The lock is released: tell the observers the run is done."""
        report = self.report
        if report.status != RunStatus.FAILED:
            report.seconds = time.monotonic() - self.started
        self.tell(PhaseChanged(report.run_id, Phase.DONE))
        self.tell(RunFinished(report.run_id, RunStatus(report.status), report.seconds))


def record_skip(engine: Engine, *, district_id: str, trigger: str, reason: str) -> SyncReport:
    """Record a run that did not pull at all (a pause window), and report it as skipped."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        run_id = store_runs.create_run(
            conn, district_id=district_id, trigger=trigger, mode=Mode.APPLY, now=now
        )
        report = SyncReport(
            run_id=run_id, district_id=district_id, status=RunStatus.SKIPPED, reason=reason
        )
        store_runs.finish_run(
            conn,
            run_id,
            status=RunStatus.SKIPPED,
            counts=report.as_counts_json(),
            error=reason,
            now=now,
        )
    log.info("sync.skipped", district_id=district_id, run_id=run_id, trigger=trigger)
    return report
