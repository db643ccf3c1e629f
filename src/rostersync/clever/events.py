"""Clever's Events API read as a delta: what changed after a cursor, as roster records.

    GET /v3.1/events?ending_before=last&limit=1   the newest event: where a full sync stands
    GET /v3.1/events?starting_after=<cursor>      every event after it, page by page (`next`)

An event is `{"id", "type": "<collection>.created|updated|deleted", "created", "data":
{"object": {...}, "previous_attributes": {...}}}`. Several events of one record keep only the
last: its `object` is the record as it then was, mapped with `clever.mapping` like a full pull's;
a `deleted` one becomes the same record with status `tobedeleted` (a removal, as in a OneRoster
delta). A section brings its enrollments: the seats of its `object` as they are now, and the
seats its earlier versions had (`previous_attributes` holds the old `students`, `teachers` and
`teacher`) and it no longer has, as removals; a deleted section removes every seat it had.

Clever keeps events for a limited window (30 days, per Clever's documentation); a cursor older
than that is answered 404 here (the simulator's choice: Clever documents the window, not the
answer): `cursor_kept` asks before a delta, so that it runs as a full sync instead, and a
cursor that expires during the delta fails it as incomplete, saying a full sync is needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import structlog

from rostersync.clever import mapping
from rostersync.clever.client import CleverClient
from rostersync.domain.records import TO_BE_DELETED, Enrollment, Record
from rostersync.errors import FatalSourceError, IncompleteSourceError

__all__ = ["RETENTION", "EventChanges", "cursor_kept", "newest_event"]

log = structlog.get_logger(__name__)

# How long Clever keeps events ("the last 30 days", Clever's Events API documentation).
RETENTION = timedelta(days=30)

_SEAT_FIELDS = ("students", "teachers", "teacher")


def newest_event(client: CleverClient) -> str | None:
    """The id of the district's newest event (None when it has none), in one request.

    Raises:
        SourceError: As `CleverClient.pages`.
    """
    query = {"ending_before": "last", "limit": "1"}
    for page in client.pages("events", query):
        for event in page:
            found = event.get("id")
            return found if isinstance(found, str) and found else None
        return None
    return None


def cursor_kept(client: CleverClient, cursor: str) -> bool:
    """Whether Clever still keeps the events after `cursor` (one request of one event).

    Raises:
        SourceError: Any other failure than the cursor's 404.
    """
    try:
        for _page in client.pages("events", {"starting_after": cursor, "limit": "1"}):
            return True
    except FatalSourceError as exc:
        if exc.status == 404:
            return False
        raise
    return True


@dataclass(slots=True)
class _Last:
    """The last event of one record, and for a section every seat it ever had meanwhile."""

    change: str
    obj: dict[str, Any]
    seats: dict[str, mapping.SectionSeat] = field(default_factory=dict)


class EventChanges:
    """The changes after a cursor, read once, then handed out collection by collection.

    Args:
        client: The district's Data API client.
        cursor: The newest event already applied; None reads the events from their start.
    """

    def __init__(self, client: CleverClient, cursor: str | None) -> None:
        self.cursor = cursor
        self.events = 0
        self.ignored = 0
        self._client = client
        self._last: dict[str, dict[str, _Last]] = {
            feed: {} for f in mapping.FEEDS.values() for feed in f
        }

    def read(self) -> None:
        """Read every event after the cursor, keeping each record's last; the cursor moves to
        the newest event read.

        Raises:
            IncompleteSourceError: Clever no longer keeps the events after the cursor.
            SourceError: As `CleverClient.pages`.
        """
        try:
            after = {} if self.cursor is None else {"starting_after": self.cursor}
            for page in self._client.pages("events", after):
                for event in page:
                    self._take(event)
        except FatalSourceError as exc:
            if exc.status != 404:
                raise
            raise IncompleteSourceError(
                f"Clever no longer keeps the events after the last sync (it keeps "
                f"{RETENTION.days} days of them); run a full sync (`rostersync sync <district>`) "
                "to make the roster whole again",
                url="/v3.1/events",
                status=404,
            ) from None
        log.debug("clever.events", events=self.events, ignored=self.ignored)

    def _take(self, event: dict[str, Any]) -> None:
        event_id, kind = event.get("id"), event.get("type")
        data = event.get("data")
        if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(data, dict):
            raise FatalSourceError(
                "Clever answered GET /v3.1/events with an event without an id, a type or data",
                url="/v3.1/events",
            )
        self.cursor, self.events = event_id, self.events + 1
        feed, _, change = kind.partition(".")
        obj, previous = data.get("object"), data.get("previous_attributes")
        known = self._last.get(feed)
        if known is None or not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            self.ignored += 1  # contacts, admins, resources: not part of the roster
            return
        last = known.get(obj["id"])
        seats = last.seats if last is not None else {}
        if feed == "sections":
            versions = [obj]
            if isinstance(previous, Mapping) and any(f in previous for f in _SEAT_FIELDS):
                versions.append({**obj, **previous})
            for version in versions:
                for seat in mapping.section_seats(version):
                    seats.setdefault(_seat_id(seat), seat)
        known[obj["id"]] = _Last(change, obj, seats)

    def records(self, collection: str) -> Iterator[Record]:
        """The records of one of rostersync's collections that the events changed."""
        if collection == "enrollments":
            yield from self._enrollments()
            return
        for feed in mapping.FEEDS[collection]:
            mapper = mapping.MAPPERS[feed]
            for last in self._last[feed].values():
                record = mapper(last.obj)
                yield replace(record, status=TO_BE_DELETED) if last.change == "deleted" else record

    def _enrollments(self) -> Iterator[Enrollment]:
        for last in self._last["sections"].values():
            now = {} if last.change == "deleted" else _seats(last.obj)
            yield from map(mapping.to_enrollment, now.values())
            for seat_id, seat in last.seats.items():
                if seat_id not in now:
                    yield replace(mapping.to_enrollment(seat), status=TO_BE_DELETED)


def _seats(section: dict[str, Any]) -> dict[str, mapping.SectionSeat]:
    return {_seat_id(seat): seat for seat in mapping.section_seats(section)}


def _seat_id(seat: mapping.SectionSeat) -> str:
    return f"{seat.section}:{seat.user}:{seat.role}"
