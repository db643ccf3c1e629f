"""A OneRoster CSV bundle as a roster source: `rostersync sync <district> --from bundle.zip`.

What a bundle may be trusted to say about absence follows its manifest. A `bulk` file is a full
snapshot, so its kinds count as complete (and absence may deactivate) when the file has rows. A
`delta` file only lists changes: it is never complete, and its `tobedeleted` rows are the only
removals. An `absent` file says nothing. For 1.2, users are complete only when roles.csv is a
bulk snapshot too, since a user's role and schools come from it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

from rostersync.config import Settings
from rostersync.domain.records import EntityKind, Record
from rostersync.domain.unchanged_rows import KnownRows, UnchangedRow
from rostersync.oneroster.bundle import Bundle, BundleError, BundleLimits, BundleStats
from rostersync.store.bundle_vault import Unsealed
from rostersync.sync.enrollment_reader import ASIDE_BYTES, EnrollmentReader
from rostersync.sync.enrollment_rows import bundle_rows
from rostersync.sync.enrollments import EnrollmentSpool, SpoolFilled
from rostersync.sync.sources import COLLECTIONS, Progress, PullStats

__all__ = ["BundleSource", "limits_for"]


def limits_for(settings: Settings) -> BundleLimits:
    """The bounds a bundle is read under: the `bundle_*` and `push_max_bundle_bytes` settings."""
    return BundleLimits(
        max_compressed_bytes=settings.push_max_bundle_bytes,
        max_members=settings.bundle_max_members,
        max_line_chars=settings.bundle_max_line_chars,
    )


class BundleSource:
    """A `RosterSource` reading a OneRoster 1.1 or 1.2 CSV bundle (a path, the zip's bytes, or a
    sealed pushed bundle, decrypted to a private file on first use and deleted by `close`).

    Nothing is opened until `records` is iterated, so a refused bundle fails the run (with its
    `BundleError` message) rather than the caller, and nothing is written.
    """

    def __init__(
        self,
        bundle: str | Path | bytes | Unsealed,
        *,
        limits: BundleLimits | None = None,
        aside_bytes: int = ASIDE_BYTES,
    ) -> None:
        self._source = bundle
        self.limits = limits or BundleLimits()
        # enrollments.csv this big or bigger is read by a helper process (`read_enrollments_aside`);
        # `enrollments_aside` says whether one was.
        self.aside_bytes = aside_bytes
        self.enrollments_aside = False
        # The run's spool, when `records` fills it itself (a bundle too small for a helper).
        self._spool: EnrollmentSpool | None = None
        self.stats = PullStats()
        # Files, encodings, ignored columns and notices, filled while reading.
        self.bundle_stats = BundleStats()
        self.version: str | None = None
        self._modes: dict[str, str] = {}
        # Rows the portal holds, offered by the run (`offer_known`).
        self._known: KnownRows | None = None

    @property
    def _display_name(self) -> str | None:
        """What messages call the bundle: a pushed one by what it is, not its working copy."""
        return "the pushed bundle" if isinstance(self._source, Unsealed) else None

    def _opened(self) -> str | Path | bytes:
        source = self._source
        return source.path() if isinstance(source, Unsealed) else source

    def close(self) -> None:
        """Delete the clear copy of a sealed bundle, if one was made (idempotent)."""
        if isinstance(self._source, Unsealed):
            self._source.close()

    def offer_known(self, known: KnownRows) -> None:
        """Yield a classes.csv or users.csv row that `known` holds unchanged as an
        `UnchangedRow` instead of its record (`domain.unchanged_rows`); call before `records`."""
        self._known = known

    @property
    def unchanged_rows(self) -> dict[str, int]:
        """Per file, the rows of the last read known unchanged from their hash."""
        return dict(self._known.unchanged) if self._known is not None else {}

    def rewind(self) -> None:
        """Forget a read (its counts, its helper, any rows offered as known), to read again."""
        self.stats = PullStats()
        self.bundle_stats = BundleStats()
        self.enrollments_aside = False
        self._spool = None
        self._known = None

    def records(self, progress: Progress | None = None) -> Iterator[Record | UnchangedRow]:
        """Yield every record of the bundle, collection by collection in dependency order.

        Raises:
            BundleError: The bundle is refused; the message names the file, line and column.
        """
        with Bundle(self._opened(), limits=self.limits, name=self._display_name) as bundle:
            self.bundle_stats = bundle.stats
            self.version = bundle.version
            self._modes = dict(bundle.modes)
            counts = {name: 0 for name, _kinds in COLLECTIONS}
            current: str | None = None
            spool = self._spool
            skip = ("enrollments",) if self.enrollments_aside or spool is not None else ()
            for collection, record in bundle.records(skip=skip, known=self._known):
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
            if spool is not None:
                self._spool_enrollments(bundle, spool, progress)

    def _spool_enrollments(
        self, bundle: Bundle, spool: EnrollmentSpool, progress: Progress | None
    ) -> None:
        # Straight from their cells to the spool, never as records (`sync.enrollment_rows`).
        count = 0
        add = spool.add_row
        for row in bundle_rows(bundle):
            add(row)
            count += 1
            if progress is not None and count % 500 == 0:
                progress("enrollments", count)
        if count:
            self._finish("enrollments", count, progress)

    def read_enrollments_aside(
        self, spool: EnrollmentSpool, progress: Progress | None = None
    ) -> bool:
        """Have a helper process read enrollments.csv into `spool` while `records` reads the
        rest (see `sync.enrollment_reader`); whether it does.

        Only a bundle on disk whose enrollments.csv is at least `aside_bytes` is read so, on a
        POSIX system. Call it before `records`; the spool's `chunks` then read what the helper
        writes as it writes it, and the helper's counts are added here when it is done. Any
        other bundle's enrollments are spooled by `records` itself, after the rest, straight
        from their cells (`sync.enrollment_rows`), never as records.
        """
        if self.enrollments_aside:
            return False
        if not self._reads_aside():
            # Read here, after the rest, straight into the spool.
            self._spool = spool
            return False
        path = self._opened()
        assert not isinstance(path, bytes)  # `_reads_aside` says no to bytes
        reader = EnrollmentReader(Path(path), self.limits, spool)
        spool.attach(_Aside(self, reader, progress, spool.chunk))
        self.enrollments_aside = True
        return True

    def _reads_aside(self) -> bool:
        """Whether a helper process should read enrollments.csv (see `read_enrollments_aside`)."""
        if isinstance(self._source, bytes):
            return False
        if os.name != "posix" or not sys.executable:
            return False  # the helper inherits descriptors (`pass_fds`): POSIX only
        path = self._opened()
        assert not isinstance(path, bytes)
        try:
            with Bundle(path, limits=self.limits, name=self._display_name) as bundle:
                if bundle.modes.get("enrollments", "absent") == "absent":
                    return False
                if bundle.member_size("enrollments") < self.aside_bytes:
                    return False
        except BundleError:
            return False  # `records` refuses it, with the same message, where the run expects
        return True

    def _finish(self, collection: str, count: int, progress: Progress | None) -> None:
        self.stats.records[collection] = count
        if progress is not None:
            progress(collection, count)

    def unprovided_kinds(self) -> set[EntityKind]:
        """Kinds whose file the manifest marks absent: the bundle says nothing about them, so
        a reference to one cannot be checked against it (decision 0021: a class whose course
        was not provided is provisioned with a warning, not held). Empty until `records` has
        opened the bundle."""
        if not self.version:
            return set()
        return {
            kind
            for collection, kinds in COLLECTIONS
            if self._modes.get(collection, "absent") == "absent"
            for kind in kinds
        }

    def complete_kinds(self) -> set[EntityKind]:
        """Kinds whose file was a bulk snapshot with at least one row (see the module docstring)."""
        complete: set[EntityKind] = set()
        for collection, kinds in COLLECTIONS:
            if self._modes.get(collection) != "bulk":
                continue
            # Enrollments read aside are counted once the helper is done, after this is asked;
            # the enrollment plan never takes an empty pull for a snapshot (`present`).
            aside = collection == "enrollments" and self.enrollments_aside
            if not aside and not self.stats.records.get(collection):
                continue
            if (
                collection == "users"
                and self.version == "1.2"
                and self._modes.get("roles") != "bulk"
            ):
                continue
            complete.update(kinds)
        return complete


class _Aside:
    """The helper reading a bundle's enrollments, reporting its counts to the bundle's source,
    and its progress (enrollments spooled so far, a chunk at a time) to the run's."""

    def __init__(
        self,
        source: BundleSource,
        reader: EnrollmentReader,
        progress: Progress | None,
        chunk: int,
    ) -> None:
        self._source, self._reader, self._progress = source, reader, progress
        self._chunk = chunk

    def result(self) -> SpoolFilled:
        filled = self._reader.result()
        stats = self._reader.stats
        assert stats is not None  # set by a result
        found = self._source.bundle_stats
        found.rows["enrollments"] = stats.rows
        if stats.encoding is not None:
            found.encodings["enrollments.csv"] = stats.encoding
        if stats.ignored_columns:
            found.ignored_columns["enrollments.csv"] = stats.ignored_columns
        self._source._finish("enrollments", stats.records, self._progress)
        return filled

    def written(self) -> Iterator[int]:
        # Every chunk but the last holds `chunk` enrollments: once a chunk is written, those
        # before it are counted (never more than were read); the exact count comes with the
        # result.
        for number, end in enumerate(self._reader.written()):
            if self._progress is not None and number:
                self._progress("enrollments", number * self._chunk)
            yield end

    def cancel(self) -> None:
        self._reader.cancel()
