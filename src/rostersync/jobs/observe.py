"""A roster source seen through: what the pull's newest change was, and how it failed.

The pipeline reports a failed pull as words on the run; the job queue also needs the failure's
type (a `RetriableSourceError` is retried) and the newest `dateLastModified` (the stale-data
email). Wrapping the source gives both without changing the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from rostersync.domain.records import EntityKind, Record
from rostersync.sync.sources import Progress, RosterSource


class ObservedSource:
    """Passes a source's records through unchanged, noting the newest change and any failure."""

    def __init__(self, inner: RosterSource) -> None:
        self.inner = inner
        self.stats = inner.stats
        self.newest_change: datetime | None = None
        self.failure: BaseException | None = None

    def records(self, progress: Progress | None = None) -> Iterator[Record]:
        try:
            for record in self.inner.records(progress):
                self._note(getattr(record, "date_last_modified", None))
                yield record
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            self.stats = self.inner.stats

    def complete_kinds(self) -> set[EntityKind]:
        return self.inner.complete_kinds()

    def _note(self, stamp: str | None) -> None:
        if not stamp:
            return
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            return  # an unreadable stamp says nothing about staleness
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        if self.newest_change is None or when > self.newest_change:
            self.newest_change = when
