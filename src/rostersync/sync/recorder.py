"""The run page's observer: records a running sync's progress (`store.progress`) as it hears it.

Progress must be visible *before* the run commits anything, so the recorder writes its row in
short transactions of its own, from a thread of its own, at most once per `interval`. The run
never waits for it, and a progress write that fails (a busy SQLite file while the run writes its
plan) is logged and dropped: progress is a window on the run, never a reason for it to fail.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import partial

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from rostersync.store.progress import save_progress
from rostersync.sync.events import (
    CollectionPulled,
    Event,
    Phase,
    PhaseChanged,
    RunFinished,
    RunStarted,
)

# Progress is written at most this often (seconds), and at once when the phase changes.
INTERVAL = 1.0
# Phases the pipeline reaches outside its write transaction: recorded by the run's own thread.
SYNC_WRITES = (Phase.VALIDATING, Phase.PLANNING)
_ORDER = tuple(Phase)

_log = structlog.get_logger(__name__)


class ProgressRecorder:
    """Records one run's progress in the background while the pipeline runs.

    Args:
        engine: The portal database.
        district_id: The district whose run this is.
        interval: Seconds between writes while pulling.
    """

    def __init__(self, engine: Engine, district_id: str, *, interval: float = INTERVAL) -> None:
        self.engine = engine
        # A write is one statement (an upsert): on PostgreSQL it commits by itself, sparing the
        # BEGIN and COMMIT round trips. The run's own thread waits for the validating and
        # planning writes while the enrollments are still pulled beside it, and each round trip
        # then waits its turn for the interpreter too (up to 5 ms). SQLite is in-process: its
        # writes keep the engine's BEGIN, which takes the writer's lock up front.
        self._writer = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else None
        )
        self.district_id = district_id
        self.interval = interval
        self.run_id: str | None = None
        self._phase = Phase.PULLING
        self._collection: str | None = None
        self._records: dict[str, int] = {}
        self._dirty = False
        self._finished = False
        self._state = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self, event: Event) -> None:
        """Hear one of the run's events (on the run's thread)."""
        if isinstance(event, CollectionPulled):
            self.pulled(event.collection, event.records)
        elif isinstance(event, PhaseChanged):
            self.reached(event.phase)
        elif isinstance(event, RunStarted):
            self.begin(event.run_id)
        elif isinstance(event, RunFinished):
            self.finish()

    def begin(self, run_id: str) -> None:
        """The run holds its lock: start recording (the first write once records arrive)."""
        if self.run_id is not None:
            return
        self.run_id = run_id
        self._thread = threading.Thread(target=self._loop, name=f"progress {run_id}", daemon=True)
        self._thread.start()

    def pulled(self, collection: str, records: int) -> None:
        """`records` of `collection` pulled so far."""
        with self._state:
            self._collection = collection
            self._records[collection] = records
            self._dirty = True

    def reached(self, phase: Phase) -> None:
        """The run moved on to `phase` (ignored if it is behind the current one)."""
        with self._state:
            if _ORDER.index(phase) <= _ORDER.index(self._phase):
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
    def phase(self) -> Phase:
        return self._phase

    def finish(self) -> None:
        """The run ended (however it ended): stop the thread and record `done`, once."""
        if self._finished:
            return
        self._finished = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self.run_id is None:
            return
        with self._state:
            self._phase, self._collection, self._dirty = Phase.DONE, None, True
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
        save = partial(
            save_progress,
            run_id=self.run_id,
            district_id=self.district_id,
            phase=phase.value,
            collection=collection,
            records=records,
            now=datetime.now(UTC),
        )
        try:
            if self._writer is not None:
                with self._writer.connect() as conn:
                    save(conn)
            else:
                with self.engine.begin() as conn:
                    save(conn)
        except SQLAlchemyError as exc:
            # Counts only, never the record; the next write carries the newer state anyway.
            with self._state:
                self._dirty = True
            _log.warning(
                "progress.not_recorded",
                run_id=self.run_id,
                district_id=self.district_id,
                phase=phase.value,
                error_type=type(exc).__name__,
            )


__all__ = ["INTERVAL", "ProgressRecorder"]
