"""A run's events feed /metrics: time per phase, records pulled, records per second, and the
run's wait for the shared request budget (heard from a real budget in memory)."""

from __future__ import annotations

import time

from rostersync import metrics
from rostersync.oneroster.budget import MemoryClosures, RosterBudget, per_second
from rostersync.oneroster.budget_slots import MemorySlots
from rostersync.sync.events import (
    CollectionPulled,
    Mode,
    Phase,
    PhaseChanged,
    RunFinished,
    RunStarted,
    RunStatus,
)
from rostersync.sync.metered import RunMeter


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_run_is_timed_per_phase_and_its_records_counted_once_each() -> None:
    clock = Clock()
    meter = RunMeter(clock)
    pulling = value("rostersync_run_phase_seconds_sum", phase="pulling")
    writing = value("rostersync_run_phase_seconds_count", phase="writing")
    users = value("rostersync_records_pulled_total", collection="users")
    rates = value("rostersync_run_records_per_second_count")
    rate_sum = value("rostersync_run_records_per_second_sum")

    meter(RunStarted("r1", "d1", Mode.APPLY, "scheduled"))
    meter(PhaseChanged("r1", Phase.PULLING))
    meter(CollectionPulled("r1", "users", 600))
    meter(CollectionPulled("r1", "users", 1000))  # so far: 400 more, not 1000
    clock.now += 2.0
    meter(PhaseChanged("r1", Phase.VALIDATING))
    clock.now += 0.5
    meter(PhaseChanged("r1", Phase.WRITING))
    clock.now += 1.0
    meter(PhaseChanged("r1", Phase.DONE))
    meter(RunFinished("r1", RunStatus.SUCCEEDED, 3.5))

    assert value("rostersync_run_phase_seconds_sum", phase="pulling") == pulling + 2.0
    assert value("rostersync_run_phase_seconds_count", phase="writing") == writing + 1
    assert value("rostersync_records_pulled_total", collection="users") == users + 1000
    assert value("rostersync_run_records_per_second_count") == rates + 1
    assert value("rostersync_run_records_per_second_sum") == rate_sum + 500.0


def test_a_runs_budget_wait_is_the_waits_heard_for_its_district_while_it_ran() -> None:
    clock = Clock()
    budget = RosterBudget(MemorySlots(time.time), per_second(1), MemoryClosures(), max_wait=60)
    meter = RunMeter(clock)
    meter.listen_to(budget)
    meter.listen_to(budget)  # once per budget, however often asked
    count = value("rostersync_run_budget_wait_seconds_count")
    total = value("rostersync_run_budget_wait_seconds_sum")

    meter(RunStarted("r2", "d2", Mode.APPLY, "scheduled"))
    budget.take("roster.example", "d2").finish()
    with budget.turn("roster.example", "d2") as turn:  # the budget of one a second is full
        waited = turn.waited
    budget.take("roster.example", "someone-else").finish()  # another district's wait: not r2's
    meter(RunFinished("r2", RunStatus.SUCCEEDED, 1.0))

    assert waited > 0
    assert value("rostersync_run_budget_wait_seconds_count") == count + 1
    assert abs(value("rostersync_run_budget_wait_seconds_sum") - (total + waited)) < 1e-9


def test_a_meter_that_never_listened_observes_no_wait() -> None:
    meter = RunMeter(Clock())
    count = value("rostersync_run_budget_wait_seconds_count")
    meter(RunStarted("r3", "d3", Mode.APPLY, "scheduled"))
    meter(RunFinished("r3", RunStatus.FAILED, 0.2))
    assert value("rostersync_run_budget_wait_seconds_count") == count
