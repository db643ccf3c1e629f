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
`complete_kinds` names only the kinds whose collections arrived whole. A Clever source cannot pull
a delta (it has no `filter`): the delta sync refuses it and a full sync is run instead.

Pages come one after another: a `starting_after` cursor is known only once the page before it
arrived, so `page_concurrency` does not apply. The district's token is looked up at the first
request (`providers.clever`), so building a source sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from rostersync.clever import mapping
from rostersync.clever.client import CleverApp, CleverClient
from rostersync.domain.records import EntityKind, Record
from rostersync.sync.sources import COLLECTIONS, Progress, PullStats

__all__ = ["CleverSource"]

# The Clever collections that feed each of rostersync's collections, in dependency order.
_FEEDS: dict[str, tuple[str, ...]] = {
    "orgs": ("districts", "schools"),
    "academicSessions": ("terms",),
    "courses": ("courses",),
    "classes": ("sections",),
    "users": ("users",),
    "enrollments": (),  # from the sections' seats
}
_MAPPERS: dict[str, Callable[[object], Record]] = {
    "districts": mapping.to_district,
    "schools": mapping.to_school,
    "terms": mapping.to_term,
    "courses": mapping.to_course,
    "sections": mapping.to_section,
    "users": mapping.to_person,
}


class CleverSource:
    """One Clever district's roster, read with its district-app token.

    Args:
        client: The Data API client holding the district's token; closed when the pull ends.
        app: The app's token directory the client renews its token from; closed with it.
    """

    def __init__(self, client: CleverClient, app: CleverApp) -> None:
        self.stats = PullStats()
        self._client = client
        self._app = app
        self._whole: set[str] = set()

    def records(self, progress: Progress | None = None) -> Iterator[Record]:
        """Every record (see `RosterSource.records`), collection by collection."""
        seats: list[mapping.SectionSeat] = []
        try:
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

    def _raw(
        self, collection: str, progress: Progress | None
    ) -> Iterator[tuple[dict[str, Any], Record]]:
        received = 0
        for feed in _FEEDS[collection]:
            mapper = _MAPPERS[feed]
            for page in self._client.pages(feed):
                for raw in page:
                    yield raw, mapper(raw)
                received += len(page)
                if progress is not None:
                    progress(collection, received)

    def complete_kinds(self) -> set[EntityKind]:
        """The kinds whose collections arrived whole and non-empty."""
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
