"""Run progress: what a running sync is doing now, recorded while it runs, for the run page.

The repository functions take a `Connection` whose transaction the caller owns, like every other
store module. `ProgressRecorder` is the exception, on purpose: progress must be visible *before*
the run commits anything, so it writes its row in short transactions of its own, from a thread of
its own, at most once per `interval`. The run never waits for it, and a progress write that fails
(a busy SQLite file while the run writes its plan) is logged and dropped: progress is a window on
the run, never a reason for it to fail.

Phases only move forward: pulling → validating → planning → writing → done. The pipeline reports
records pulled through its `progress` callback; `RecordedSource` infers the later phases from the
calls the pipeline makes to its source (the pull ending; asking which kinds arrived whole, which
it does to plan; reading the pull's statistics for the report, which it does just before
writing). If the pipeline's order ever changes, the phases get coarser, never out of order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from rostersync.domain.records import EntityKind, Record
from rostersync.store.progress_tables import PHASES, run_progress
from rostersync.store.workflow_tables import sync_locks

# The pipeline's progress callback: (collection, records so far). Spelled out here because
# adapters do not import the pipeline's package (import-linter).
Progress = Callable[[str, int], None]
# Progress is written at most this often (seconds), and at once when the phase changes.
INTERVAL = 1.0
# Phases the pipeline reaches outside its write transaction: recorded by the run's own thread.
SYNC_WRITES = ("validating", "planning")

_log = structlog.get_logger(__name__)


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
    """Record a run's progress, replacing what was recorded before.

    One writer per run (its recorder), so an UPDATE that finds no row can INSERT without a race.

    Raises:
        ValueError: `phase` is not one of `PHASES`.
    """
    if phase not in PHASES:
        raise ValueError(f"phase {phase!r} is not one of {', '.join(PHASES)}")
    values = {"phase": phase, "collection": collection, "records": records, "updated_at": now}
    changed = conn.execute(
        update(run_progress).where(run_progress.c.run_id == run_id).values(**values)
    )
    if changed.rowcount == 0:
        conn.execute(insert(run_progress).values(run_id=run_id, district_id=district_id, **values))


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


def lock_holder(conn: Connection, district_id: str) -> str | None:
    """The run holding the district's sync lock, if any."""
    return conn.execute(
        select(sync_locks.c.run_id).where(sync_locks.c.district_id == district_id)
    ).scalar_one_or_none()


class ProgressRecorder:
    """Records one run's progress in the background while the pipeline runs.

    Args:
        engine: The portal database.
        district_id: The district whose run this is; the run is the one holding its lock when
            the pull starts.
        interval: Seconds between writes while pulling.
        on_run: Called once with the run id as soon as it is known (before the first request).
        progress: Another progress callback to pass the pipeline's calls on to.
    """

    def __init__(
        self,
        engine: Engine,
        district_id: str,
        *,
        interval: float = INTERVAL,
        on_run: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.engine = engine
        self.district_id = district_id
        self.interval = interval
        self.on_run = on_run
        self.forward = progress
        self.run_id: str | None = None
        self._phase = PHASES[0]
        self._collection: str | None = None
        self._records: dict[str, int] = {}
        self._dirty = False
        self._state = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None

    # Called by the pipeline's thread -----------------------------------------------------------
    def begin(self) -> None:
        """The pull is starting: find the run (it holds the lock by now) and start recording."""
        if self.run_id is not None:
            return
        with self.engine.connect() as conn:
            self.run_id = lock_holder(conn, self.district_id)
        if self.run_id is None:
            return  # cannot happen inside the pipeline; without a run there is nothing to show
        self._write()
        if self.on_run is not None:
            self.on_run(self.run_id)
        self._thread = threading.Thread(
            target=self._loop, name=f"progress {self.run_id}", daemon=True
        )
        self._thread.start()

    def pulled(self, collection: str, records: int) -> None:
        """The pipeline's progress callback: `records` of `collection` pulled so far."""
        with self._state:
            self._collection = collection
            self._records[collection] = records
            self._dirty = True
        if self.forward is not None:
            self.forward(collection, records)

    def reached(self, phase: str) -> None:
        """The run moved on to `phase` (ignored if it is behind the current one)."""
        with self._state:
            if PHASES.index(phase) <= PHASES.index(self._phase):
                return
            self._phase = phase
            self._collection = None
            self._dirty = True
        if phase in SYNC_WRITES:
            # Recorded before the run goes on: it is about to take SQLite's one writer, which a
            # progress write would then wait for (and a killed run names its phase from here).
            self._write()
        self._wake.set()

    @property
    def phase(self) -> str:
        return self._phase

    def finish(self) -> None:
        """The run ended (however it ended): stop the thread and record `done`."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self.run_id is None:
            return
        with self._state:
            self._phase, self._collection, self._dirty = "done", None, True
        self._write()

    # The recorder's own thread -----------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if not self._stop.is_set():
                self._write()

    def _write(self) -> None:
        with self._writing:
            self._write_now()

    def _write_now(self) -> None:
        with self._state:
            if not self._dirty or self.run_id is None:
                return
            phase, collection, records = self._phase, self._collection, dict(self._records)
            self._dirty = False
        try:
            with self.engine.begin() as conn:
                save_progress(
                    conn,
                    run_id=self.run_id,
                    district_id=self.district_id,
                    phase=phase,
                    collection=collection,
                    records=records,
                    now=datetime.now(UTC),
                )
        except SQLAlchemyError as exc:
            # Counts only, never the record; the next write carries the newer state anyway.
            with self._state:
                self._dirty = True
            _log.warning(
                "progress.not_recorded",
                run_id=self.run_id,
                district_id=self.district_id,
                phase=phase,
                error_type=type(exc).__name__,
            )


class RecordedSource:
    """A roster source that tells a `ProgressRecorder` where the pipeline is.

    Everything else (its `filter`, its client) is the wrapped source's. Typed loosely: the
    `RosterSource` protocol lives in `rostersync.sync`, which adapters do not import.
    """

    def __init__(self, source: Any, recorder: ProgressRecorder) -> None:
        self._source = source
        self._recorder = recorder

    @property
    def stats(self) -> Any:
        # The pipeline reads the pull's statistics into the report once the plan is made, just
        # before it writes (and on failure, when the phase stays where it was).
        if self._recorder.phase == "planning":
            self._recorder.reached("writing")
        return self._source.stats

    @stats.setter
    def stats(self, value: Any) -> None:
        self._source.stats = value

    def records(self, progress: Progress | None = None) -> Iterator[Record]:
        self._recorder.begin()
        records: Iterator[Record] = self._source.records(progress)
        yield from records
        self._recorder.reached("validating")

    def complete_kinds(self) -> set[EntityKind]:
        self._recorder.reached("planning")
        kinds: set[EntityKind] = self._source.complete_kinds()
        return kinds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


__all__ = [
    "INTERVAL",
    "ProgressRecorder",
    "RecordedSource",
    "RunProgress",
    "get_progress",
    "lock_holder",
    "save_progress",
]
