"""Ended runs are counted on /metrics by status, with their duration."""

from __future__ import annotations

from rostersync import metrics
from rostersync.sync.events import Phase, PhaseChanged, RunFinished, RunStatus
from rostersync.sync.metered import count_runs


def sample(name: str, status: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, {"status": status}) or 0.0


def test_a_finished_run_is_counted_by_status_and_duration() -> None:
    runs = sample("rostersync_runs_total", "held")
    seconds = sample("rostersync_run_seconds_sum", "held")
    count_runs(RunFinished(run_id="r1", status=RunStatus.HELD, seconds=2.5))
    assert sample("rostersync_runs_total", "held") == runs + 1
    assert sample("rostersync_run_seconds_sum", "held") == seconds + 2.5


def test_other_events_are_not_counted() -> None:
    runs = sample("rostersync_runs_total", "succeeded")
    count_runs(PhaseChanged(run_id="r1", phase=next(iter(Phase))))
    assert sample("rostersync_runs_total", "succeeded") == runs
