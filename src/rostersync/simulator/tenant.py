"""One simulated district: its data, its OAuth credentials and the views served from them."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rostersync.simulator.district import DistrictData
from rostersync.simulator.endpoints import Endpoint
from rostersync.simulator.faults import FaultPlan
from rostersync.simulator.query import Selection

Record = dict[str, Any]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CACHED_VIEWS = 16


@dataclass(slots=True)
class _View:
    source: list[Record]
    length: int
    records: list[Record]


class Tenant:
    """A district served under `/{name}/ims/oneroster/v1p1`.

    Filtered and sorted views are computed on a request with offset 0 and reused for later pages
    of the same query, so walking a 600k-row collection does not re-sort it per page and a walk
    sees one consistent snapshot. Assigning `data` drops every view; after editing records in
    place, call `invalidate()` (or start the next walk at offset 0, which recomputes anyway).

    Args:
        name: Path prefix; letters, digits, `.`, `_` and `-`.
        data: The district's collections.
        key: OAuth consumer key the tenant accepts.
        secret: OAuth consumer secret the tenant signs with.
        quirks: Answer the way ClassLink's Roster Servers do (`rostersync.simulator.quirks`).
        faults: Misbehaviour on demand (`rostersync.simulator.faults`); also assignable later.
    """

    def __init__(
        self,
        name: str,
        data: DistrictData,
        key: str,
        secret: str,
        *,
        quirks: bool = False,
        faults: FaultPlan | None = None,
    ) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError("tenant name must be letters, digits, '.', '_' or '-'")
        self.name = name
        self.key = key
        self.secret = secret
        self.quirks = quirks
        self.faults = faults if faults is not None else FaultPlan()
        self._data = data
        self._lock = threading.Lock()
        self._views: OrderedDict[tuple[str, Selection], _View] = OrderedDict()
        self._index: dict[str, tuple[list[Record], dict[str, int]]] = {}

    def __repr__(self) -> str:
        return f"Tenant(name={self.name!r}, key={self.key!r}, secret=<hidden>)"

    @property
    def data(self) -> DistrictData:
        """The district's collections; assigning new data takes effect on the next request."""
        return self._data

    @data.setter
    def data(self, value: DistrictData) -> None:
        with self._lock:
            self._data = value
            self._views.clear()
            self._index.clear()

    def invalidate(self) -> None:
        """Forget cached views and indexes, e.g. after editing records in place."""
        with self._lock:
            self._views.clear()
            self._index.clear()

    def view(self, endpoint: Endpoint, selection: Selection, *, fresh: bool) -> list[Record]:
        """The endpoint's records after filter and sort.

        Args:
            endpoint: The collection endpoint requested.
            selection: Filter and sort of the request.
            fresh: Recompute even if a view of the same query is cached.
        """
        key = (endpoint.path, selection)
        with self._lock:
            source = self._data.collection(endpoint.source)
            cached = self._views.get(key)
            if (
                fresh
                or cached is None
                or cached.source is not source
                or cached.length != len(source)
            ):
                admitted = source if endpoint.where is None else filter(endpoint.admits, source)
                cached = _View(source, len(source), selection.apply(admitted))
                self._views[key] = cached
                while len(self._views) > _CACHED_VIEWS:
                    self._views.popitem(last=False)
            self._views.move_to_end(key)
            return cached.records

    def find(self, endpoint: Endpoint, sourced_id: str) -> Record | None:
        """The record with this sourcedId served by the endpoint, or None."""
        with self._lock:
            source = self._data.collection(endpoint.source)
            for attempt in range(2):
                indexed, positions = self._index.get(endpoint.source, (None, {}))
                position = positions.get(sourced_id)
                if indexed is source and position is not None and position < len(source):
                    record = source[position]
                    if record.get("sourcedId") == sourced_id:
                        return record if endpoint.admits(record) else None
                if attempt == 0:
                    # A miss may mean the list changed under us; rebuild once before answering.
                    positions = {str(r.get("sourcedId")): i for i, r in enumerate(source)}
                    self._index[endpoint.source] = (source, positions)
            return None
