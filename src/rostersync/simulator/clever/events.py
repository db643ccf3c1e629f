"""Clever's Events API for one district: what changed, as `{kind}.created|updated|deleted`.

An event is `{"id", "type", "created", "data": {"object": …, "previous_attributes": …}}`; the
`previous_attributes` (the old values of the top-level fields that changed) only on `updated`.
Clever's Swagger (v3.1-events.yml) defines the event types and the `object`; it leaves where
`previous_attributes` sits ambiguous, and the simulator puts it beside `object` in `data`.

Event ids are ObjectID-shaped and increase with time, so `starting_after` pages forward. Clever
keeps events for a limited window; `expire()` drops everything recorded so far, and a
`starting_after` naming an event that is no longer kept is answered 404 (`EventGone`). Clever
documents the window but not that answer: the choice is the simulator's, stated in the API notes.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rostersync.simulator.clever.model import KINDS, CleverDistrict, Record


class EventGone(LookupError):
    """A cursor names an event that expired (or never existed)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded change."""

    id: str
    type: str
    created: str
    object: Record
    previous_attributes: Record | None = None
    school: str | None = None

    @property
    def record_type(self) -> str:
        """The singular record type ("users.updated" → "user"), as `record_type=` filters it."""
        return self.type.partition(".")[0].removesuffix("s")

    def body(self) -> Record:
        """The event object as the API serves it (the `data` of one item)."""
        data: Record = {"object": self.object}
        if self.previous_attributes is not None:
            data["previous_attributes"] = self.previous_attributes
        return {"id": self.id, "type": self.type, "created": self.created, "data": data}


class _Counter:
    """Event ids shared by every district of a simulator, so ids never repeat or go backwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 1

    def take(self, clock: Callable[[], float]) -> str:
        with self._lock:
            n = self._next
            self._next += 1
        return f"{int(clock()) & 0xFFFFFFFF:08x}{n:016x}"


COUNTER = _Counter()


class EventLog:
    """The events of one district, oldest first."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._expired: set[str] = set()

    def record(self, kind: str, change: str, obj: Record, previous: Record | None = None) -> Event:
        """Record one change to one record of `kind` (a Data API collection, e.g. "users")."""
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        created = _iso(self._clock())
        event = Event(
            id=COUNTER.take(self._clock),
            type=f"{kind}.{change}",
            created=created,
            object=obj,
            previous_attributes=previous if change == "updated" else None,
            school=_school_of(kind, obj),
        )
        with self._lock:
            self._events.append(event)
        return event

    def record_diff(self, old: CleverDistrict, new: CleverDistrict) -> list[Event]:
        """Record what turned `old` into `new`: creations, updates, then deletions, per kind."""
        recorded = []
        for kind in KINDS:
            before = {r["id"]: r for r in old.collection(kind)}
            after = {r["id"]: r for r in new.collection(kind)}
            for record_id, record in after.items():
                if record_id not in before:
                    recorded.append(self.record(kind, "created", record))
                elif record != before[record_id]:
                    previous = {
                        k: before[record_id].get(k)
                        for k in sorted(set(before[record_id]) | set(record))
                        if before[record_id].get(k) != record.get(k)
                    }
                    recorded.append(self.record(kind, "updated", record, previous))
            for record_id, record in before.items():
                if record_id not in after:
                    recorded.append(self.record(kind, "deleted", record))
        return recorded

    def expire(self) -> int:
        """Drop every event recorded so far, as if Clever's window had passed; returns how many."""
        with self._lock:
            gone = len(self._events)
            self._expired.update(e.id for e in self._events)
            self._events.clear()
            return gone

    def all(self) -> list[Event]:
        """The events still kept, oldest first."""
        with self._lock:
            return list(self._events)

    def find(self, event_id: str) -> Event | None:
        """One kept event by id."""
        with self._lock:
            return next((e for e in self._events if e.id == event_id), None)

    def select(
        self,
        *,
        record_types: Iterable[str] = (),
        school: str | None = None,
    ) -> list[Event]:
        """Kept events, optionally only of some record types ("users" or "user") or one school."""
        wanted = {t.removesuffix("s") for t in record_types if t}
        return [
            e
            for e in self.all()
            if (not wanted or e.record_type in wanted) and (school is None or e.school == school)
        ]

    def check_cursor(self, event_id: str | None) -> None:
        """Raise `EventGone` when a cursor names no kept event."""
        if event_id is None or event_id in ("last",):
            return
        with self._lock:
            kept = any(e.id == event_id for e in self._events)
        if not kept:
            raise EventGone(event_id)


def _school_of(kind: str, obj: Record) -> str | None:
    if kind == "schools":
        return str(obj["id"])
    school = obj.get("school")
    if isinstance(school, str):
        return school
    roles: Any = obj.get("roles") or {}
    for role in roles.values():
        if isinstance(role, dict) and isinstance(role.get("school"), str):
            return str(role["school"])
    return None


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
