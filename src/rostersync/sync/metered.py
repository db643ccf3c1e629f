"""The run observer that counts ended runs on `/metrics` (`metrics.RUNS`, `metrics.RUN_SECONDS`)."""

from __future__ import annotations

from rostersync import metrics
from rostersync.sync.events import Event, RunFinished

__all__ = ["count_runs"]


def count_runs(event: Event) -> None:
    """Count each `RunFinished` by its status and duration."""
    if isinstance(event, RunFinished):
        metrics.run_ended(str(event.status), event.seconds)
