"""The run observer that feeds `/metrics` (`rostersync.metrics`) from the runs' own events.

`count_runs` hears every run of this process (the service adds it to each run's observers):

- `RunFinished`: the run by status and duration (`metrics.RUNS`, `metrics.RUN_SECONDS`), its
  records per second of pulling, and its wait for the shared request budget;
- `PhaseChanged`: the time spent in the phase it leaves (`metrics.RUN_PHASE_SECONDS`);
- `CollectionPulled`: the records that arrived since the last count (`metrics.RECORDS_PULLED`).

A run's budget wait is heard from the budget itself (`listen_to`, called where the budget is
known: the job queue), keyed by district: a district's run holds its lock, so the waits heard
for a district between its `RunStarted` and `RunFinished` are that run's. A process that never
listened observes no wait rather than a wait of zero. A run that waited also logs
`run.budget_waited` with its district id and seconds, since the histogram has no district label.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from rostersync import metrics
from rostersync.oneroster.budget import BudgetNote, RosterBudget
from rostersync.sync.events import (
    CollectionPulled,
    Event,
    Phase,
    PhaseChanged,
    RunFinished,
    RunStarted,
)

__all__ = ["RunMeter", "count_runs"]

_log = structlog.get_logger(__name__)


@dataclass
class _Run:
    district: str
    phase: Phase | None = None
    entered: float = 0.0
    pulling_seconds: float = 0.0
    records: dict[str, int] = field(default_factory=dict)


class RunMeter:
    """Hears the events of every run of this process and the budget's waits (thread-safe).

    Args:
        clock: Monotonic seconds (injected by tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._waits: dict[str, float] = {}
        self._budgets: set[int] = set()

    def listen_to(self, budget: RosterBudget) -> None:
        """Hear `budget`'s waits from now on (once per budget, however often asked)."""
        with self._lock:
            if id(budget) in self._budgets:
                return
            self._budgets.add(id(budget))
        budget.listen(self.hear_budget)

    def hear_budget(self, note: BudgetNote) -> None:
        """Add a district's wait to its running run's."""
        if note.kind != "waited":
            return
        with self._lock:
            self._waits[note.district] = self._waits.get(note.district, 0.0) + note.seconds

    def __call__(self, event: Event) -> None:
        if isinstance(event, CollectionPulled):
            self._pulled(event)
        elif isinstance(event, PhaseChanged):
            self._entered(event.run_id, event.phase)
        elif isinstance(event, RunStarted):
            with self._lock:
                self._runs[event.run_id] = _Run(event.district_id, entered=self._clock())
                self._waits[event.district_id] = 0.0
        elif isinstance(event, RunFinished):
            self._finished(event)

    def _pulled(self, event: CollectionPulled) -> None:
        with self._lock:
            run = self._runs.get(event.run_id)
            if run is None:
                return
            # `records` counts the collection so far: count what arrived since the last event.
            new = event.records - run.records.get(event.collection, 0)
            run.records[event.collection] = event.records
        if new > 0:
            metrics.RECORDS_PULLED.labels(collection=event.collection).inc(new)

    def _entered(self, run_id: str, phase: Phase) -> None:
        now = self._clock()
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.phase is phase:
                return
            left, spent = run.phase, now - run.entered
            run.phase, run.entered = phase, now
            if left is Phase.PULLING:
                run.pulling_seconds += spent
        if left is not None and left is not Phase.DONE:
            metrics.RUN_PHASE_SECONDS.labels(phase=str(left)).observe(spent)

    def _finished(self, event: RunFinished) -> None:
        metrics.run_ended(str(event.status), event.seconds)
        self._entered(event.run_id, Phase.DONE)
        with self._lock:
            run = self._runs.pop(event.run_id, None)
            if run is None:
                return
            listening = bool(self._budgets)
            waited = self._waits.pop(run.district, 0.0)
        pulled = sum(run.records.values())
        if pulled and run.pulling_seconds > 0:
            metrics.RUN_RECORDS_PER_SECOND.observe(pulled / run.pulling_seconds)
        if listening:
            metrics.RUN_BUDGET_WAIT_SECONDS.observe(waited)
            if waited > 0:
                # Which district waited how long: the histogram cannot say (no district labels).
                _log.info(
                    "run.budget_waited",
                    run_id=event.run_id,
                    district_id=run.district,
                    seconds=round(waited, 3),
                )


# The one meter of this process: every run's observers include it (services.runs).
count_runs = RunMeter()
