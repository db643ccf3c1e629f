"""A district on Clever as a roster source: the same records, in the same order, as OneRoster's.

    CleverSource.records()
      orgs              GET /v3.1/districts, then /v3.1/schools
      academicSessions  GET /v3.1/terms
      courses           GET /v3.1/courses
      classes           GET /v3.1/sections; each section's students and teachers are kept as
                        small seats (`mapping.SectionSeat`) for the enrollments
      users             GET /v3.1/users, one person each (`mapping.to_person`)
      enrollments       the seats, one `Enrollment` each, in the order the sections came

The pipeline reads it as it reads any `RosterSource` (`sync.sources.COLLECTIONS`, whose names the
progress and the counts use). Any failure raises before the pull ends, so the run writes nothing;
`complete_kinds` names only the kinds whose collections arrived whole.

Deltas come from Clever's Events API (`clever.events`), never a date filter: it is a
`sync.change_feed.ChangeFeedSource`. A full pull first reads the newest event id, BEFORE the
first collection: a change made while the pull runs is then after that position, so the next
delta re-reads it (planned as unchanged if the pull already had it) instead of missing it, as a
position read after the pull would. `follow(position)` turns the source into a delta: the same
collections, holding only the records the events after the position changed; none is complete.

Pages come one after another: a `starting_after` cursor is known only once the page before it
arrived, so `page_concurrency` does not apply. The district's token is looked up at the first
request (`providers.clever`), so building a source sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import structlog

from rostersync.clever import events, mapping
from rostersync.clever.client import CleverApp, CleverClient
from rostersync.domain.records import EntityKind, Record
from rostersync.errors import SourceError
from rostersync.store.delta import FeedPosition
from rostersync.sync.sources import COLLECTIONS, Progress, PullStats

log = structlog.get_logger(__name__)

__all__ = ["CleverSource"]


class CleverSource:
    """One Clever district's roster, read with its district-app token.

    Args:
        client: The Data API client holding the district's token; closed when the pull ends.
        app: The app's token directory the client renews its token from; closed with it.
    """

    retention = events.RETENTION

    def __init__(self, client: CleverClient, app: CleverApp) -> None:
        self.stats = PullStats()
        self._client = client
        self._app = app
        self._whole: set[str] = set()
        self._changes: events.EventChanges | None = None
        self._position: FeedPosition | None = None

    def follow(self, position: FeedPosition) -> str | None:
        """Pull only what changed after `position` from now on; one request checks that Clever
        still keeps those events. Returns None when it does, else why a full sync is needed.

        Raises:
            SourceError: Clever could not be asked (as `CleverClient.pages`).
        """
        now = datetime.now(UTC)
        if position.cursor is None:
            # The feed was empty: read from its start, whole only while nothing could expire.
            if now - position.read_at >= self.retention:
                return (
                    "Clever had no events when the last full sync began, over "
                    f"{self.retention.days} days ago, and keeps them only that long"
                )
        else:
            try:
                kept = events.cursor_kept(self._client, position.cursor)
            except SourceError:
                # Clever did not answer: the delta's own pull meets that too and fails the run
                # with it (recorded, the position kept), rather than failing before a run.
                kept = True
            finally:
                self._count_requests()
            if not kept:
                return (
                    "Clever no longer keeps the events since the last sync (it keeps "
                    f"{self.retention.days} days of them)"
                )
        self._changes = events.EventChanges(self._client, position.cursor)
        self._position = position
        return None

    def position(self) -> FeedPosition | None:
        """Where Clever's events stood for the records pulled: read before a full pull began,
        or the newest event a delta read; None before a pull (or when the events were refused)."""
        return self._position

    def records(self, progress: Progress | None = None) -> Iterator[Record]:
        """Every record (see `RosterSource.records`), collection by collection; after `follow`,
        only those the events changed."""
        if self._changes is not None:
            yield from self._delta(self._changes, progress)
            return
        seats: list[mapping.SectionSeat] = []
        try:
            self._position = self._newest()
            for collection, _kinds in COLLECTIONS:
                count = 0
                if collection == "enrollments":
                    for seat in seats:
                        yield mapping.to_enrollment(seat)
                        count += 1
                    if "classes" in self._whole:
                        self._whole.add(collection)
                else:
                    for raw, record in self._raw(collection, progress):
                        if collection == "classes":
                            seats.extend(mapping.section_seats(raw))
                        yield record
                        count += 1
                    self._whole.add(collection)
                self.stats.records[collection] = count
                if progress is not None:
                    progress(collection, count)
        finally:
            self._count_requests()
            self.close()

    def _newest(self) -> FeedPosition | None:
        """Where the events stand now, before the pull's first collection."""
        read_at = datetime.now(UTC)
        try:
            return FeedPosition(cursor=events.newest_event(self._client), read_at=read_at)
        except SourceError as exc:
            if exc.status not in (403, 404):
                raise
            # An app without the events (403/404): the pull goes on; a delta then runs full.
            log.warning("clever.events_refused", status=exc.status)
            return None

    def _delta(self, changes: events.EventChanges, progress: Progress | None) -> Iterator[Record]:
        try:
            changes.read()
            for collection, _kinds in COLLECTIONS:
                count = 0
                for record in changes.records(collection):
                    yield record
                    count += 1
                self.stats.records[collection] = count
                if progress is not None:
                    progress(collection, count)
            assert self._position is not None  # set by `follow`
            self._position = FeedPosition(cursor=changes.cursor, read_at=self._position.read_at)
        finally:
            self._count_requests()
            self.close()

    def _raw(
        self, collection: str, progress: Progress | None
    ) -> Iterator[tuple[dict[str, Any], Record]]:
        received = 0
        for feed in mapping.FEEDS[collection]:
            mapper = mapping.MAPPERS[feed]
            for page in self._client.pages(feed):
                for raw in page:
                    yield raw, mapper(raw)
                received += len(page)
                if progress is not None:
                    progress(collection, received)

    def complete_kinds(self) -> set[EntityKind]:
        """The kinds whose collections arrived whole and non-empty; none for a delta."""
        if self._changes is not None:
            return set()
        return {
            kind
            for collection, kinds in COLLECTIONS
            if collection in self._whole and self.stats.records.get(collection, 0) > 0
            for kind in kinds
        }

    def district(self) -> dict[str, Any]:
        """The district the token reads (Clever's district object), in one request."""
        try:
            return self._client.district()
        finally:
            self._count_requests()

    def close(self) -> None:
        """Close both connection pools."""
        self._client.close()
        self._app.close()

    def _count_requests(self) -> None:
        self.stats.requests = self._client.requests + self._app.requests
        self.stats.retries = self._client.retries + self._app.retries
