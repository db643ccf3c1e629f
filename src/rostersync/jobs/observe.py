"""What the job queue hears from a sync run: how it failed, and how fresh its roster was.

A failed run's record says what failed in words; the queue also needs the failure's kind (a
rate limit or an unavailable source is retried) and the newest `dateLastModified` pulled (the
stale-data email). The pipeline tells both (`sync.events`); `RunOutcome` keeps them.
"""

from __future__ import annotations

from datetime import datetime

from rostersync.sync.events import Event, NewestChange, RunFailed


class RunOutcome:
    """An observer of one run keeping its failure and the newest change it pulled."""

    def __init__(self) -> None:
        self.failure: RunFailed | None = None
        self.newest_change: datetime | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunFailed):
            self.failure = event
        elif isinstance(event, NewestChange):
            self.newest_change = event.newest

    @property
    def retriable(self) -> bool:
        """The run failed in a way a later attempt may get past (a rate limit, an outage)."""
        return self.failure is not None and self.failure.retriable
