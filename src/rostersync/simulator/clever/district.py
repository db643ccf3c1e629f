"""One district connected to the simulated Clever app: its data, token, events and faults.

Tests change what a district serves in two ways, and either records Clever events:

    served.data = changed_district_data      # retranslated; the difference becomes events
    served.update("users", user_id, email=None)  # one record, straight in Clever's model

`delete` and `create` are the other explicit helpers.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from rostersync.simulator.clever.events import Event, EventLog
from rostersync.simulator.clever.model import KINDS, CleverDistrict, Record, translate
from rostersync.simulator.district import DistrictData
from rostersync.simulator.faults import FaultPlan

_CONNECTED = "2026-08-01T00:00:00.000Z"


class ServedDistrict:
    """A connected district. Reading `model` gives what the Data API serves right now."""

    def __init__(self, district_id: str, data: DistrictData, *, clock: Callable[[], float]) -> None:
        self.district_id = district_id
        self._lock = threading.Lock()
        self._data = data
        self._model = translate(data, district_id)
        self.events = EventLog(clock)
        self.faults = FaultPlan()
        # Served as real districts' data differs from the translation (`quirks`).
        self.quirks = False
        self.revoked = False
        self.token = ""
        self.token_id = ""
        self.new_token()

    def new_token(self) -> None:
        """Issue a fresh district-app token (a reconnection); the old one stops working."""
        self.token = secrets.token_hex(20)
        self.token_id = secrets.token_hex(12)
        self.revoked = False

    def token_record(self) -> Record:
        """The token as `GET /oauth/tokens?owner_type=district` lists it."""
        return {
            "id": self.token_id,
            "created": _CONNECTED,
            "owner": {"type": "district", "id": self.district_id},
            "access_token": self.token,
            "scopes": [
                "read:district_admins",
                "read:school_admins",
                "read:sections",
                "read:students",
                "read:teachers",
                "read:user_id",
            ],
        }

    @property
    def data(self) -> DistrictData:
        """The OneRoster district last assigned (explicit record helpers do not change it)."""
        return self._data

    @data.setter
    def data(self, new: DistrictData) -> None:
        model = translate(new, self.district_id)
        with self._lock:
            old, self._model, self._data = self._model, model, new
        self.events.record_diff(old, model)

    @property
    def model(self) -> CleverDistrict:
        """What the Data API serves."""
        with self._lock:
            return self._model

    def update(self, kind: str, record_id: str, **changes: Any) -> Event:
        """Change top-level fields of one record; records a `{kind}.updated` event.

        Raises:
            KeyError: No such record.
        """
        with self._lock:
            model = self._model.copy()
            record = _find(model, kind, record_id)
            previous = {k: record.get(k) for k in changes}
            record.update(changes)
            self._model = model
        return self.events.record(kind, "updated", record, previous)

    def delete(self, kind: str, record_id: str) -> Event:
        """Remove one record (references to it stay, as in Clever); records `{kind}.deleted`.

        Raises:
            KeyError: No such record.
        """
        with self._lock:
            model = self._model.copy()
            record = _find(model, kind, record_id)
            model.records[kind].remove(record)
            self._model = model
        return self.events.record(kind, "deleted", record)

    def create(self, kind: str, record: Record) -> Event:
        """Add one record (it needs an `id`); records `{kind}.created`."""
        if kind not in KINDS or "id" not in record:
            raise ValueError("a record needs a known kind and an id")
        with self._lock:
            model = self._model.copy()
            model.records.setdefault(kind, []).append(dict(record))
            model.sort()
            self._model = model
        return self.events.record(kind, "created", dict(record))


def _find(model: CleverDistrict, kind: str, record_id: str) -> Record:
    record = model.find(kind, record_id)
    if record is None:
        raise KeyError(f"no {kind} record {record_id}")
    return record
