"""A OneRoster CSV bundle as a roster source: `rostersync sync <district> --from bundle.zip`.

What a bundle may be trusted to say about absence follows its manifest. A `bulk` file is a full
snapshot, so its kinds count as complete (and absence may deactivate) when the file has rows. A
`delta` file only lists changes: it is never complete, and its `tobedeleted` rows are the only
removals. An `absent` file says nothing. For 1.2, users are complete only when roles.csv is a
bulk snapshot too, since a user's role and schools come from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rostersync.domain.records import EntityKind, Record
from rostersync.oneroster.bundle import Bundle, BundleLimits, BundleStats
from rostersync.sync.sources import COLLECTIONS, Progress, PullStats

__all__ = ["BundleSource"]


class BundleSource:
    """A `RosterSource` reading a OneRoster 1.1 or 1.2 CSV bundle (a path or the zip's bytes).

    Nothing is opened until `records` is iterated, so a refused bundle fails the run (with its
    `BundleError` message) rather than the caller, and nothing is written.
    """

    def __init__(self, bundle: str | Path | bytes, *, limits: BundleLimits | None = None) -> None:
        self._source = bundle
        self.limits = limits or BundleLimits()
        self.stats = PullStats()
        # Files, encodings, ignored columns and notices, filled while reading.
        self.bundle_stats = BundleStats()
        self.version: str | None = None
        self._modes: dict[str, str] = {}

    def records(self, progress: Progress | None = None) -> Iterator[Record]:
        """Yield every record of the bundle, collection by collection in dependency order.

        Raises:
            BundleError: The bundle is refused; the message names the file, line and column.
        """
        with Bundle(self._source, limits=self.limits) as bundle:
            self.bundle_stats = bundle.stats
            self.version = bundle.version
            self._modes = dict(bundle.modes)
            counts = {name: 0 for name, _kinds in COLLECTIONS}
            current: str | None = None
            for collection, record in bundle.records():
                if collection != current:
                    if current is not None:
                        self._finish(current, counts[current], progress)
                    current = collection
                counts[collection] += 1
                if progress is not None and counts[collection] % 500 == 0:
                    progress(collection, counts[collection])
                yield record
            if current is not None:
                self._finish(current, counts[current], progress)

    def _finish(self, collection: str, count: int, progress: Progress | None) -> None:
        self.stats.records[collection] = count
        if progress is not None:
            progress(collection, count)

    def complete_kinds(self) -> set[EntityKind]:
        """Kinds whose file was a bulk snapshot with at least one row (see the module docstring)."""
        complete: set[EntityKind] = set()
        for collection, kinds in COLLECTIONS:
            if self._modes.get(collection) != "bulk" or not self.stats.records.get(collection):
                continue
            if (
                collection == "users"
                and self.version == "1.2"
                and self._modes.get("roles") != "bulk"
            ):
                continue
            complete.update(kinds)
        return complete
