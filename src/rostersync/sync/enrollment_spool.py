"""The enrollment spool: a pull's enrollments on disk, in arrival order, a chunk at a time.

Each enrollment is written as a plain tuple of its fields, then its content hash (a *row*), to
an unnamed temporary file in `marshal`'d chunks, and only its sourcedId's 64-bit hash is kept in
memory, in an array. A big bundle's enrollments are spooled by a helper process while the run
reads the rest (`sync.enrollment_reader`). The spool holds sourcedIds, roles and dates only (no
names), and is deleted when the run ends or the process dies (an unnamed file). Planning and
writing from it is `sync.enrollments`.
"""

from __future__ import annotations

import marshal
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from operator import attrgetter, itemgetter
from typing import IO, Any, Protocol

import numpy as np

from rostersync.domain.issues import ValidationIssue
from rostersync.domain.records import Enrollment, digest_of
from rostersync.domain.validate import missing_sourced_id_issue

# Enrollments per spool chunk: per lookup query, per marshal record, per write.
CHUNK = 5000

# An enrollment as a tuple, in the dataclass's field order, then its content hash: made where
# the enrollment is spooled (in a helper process, for a big bundle, off the run's own core). The
# hash covers the same fields `Record.content_hash` does, in the same order.
FIELDS = tuple(f.name for f in fields(Enrollment))
_ROW = attrgetter(*FIELDS)
HASHED = itemgetter(
    *(i for i, name in enumerate(FIELDS) if name not in ("status", "date_last_modified"))
)
# Where a row keeps the fields the plan reads, and the content hash (after the fields).
SID, STATUS, MODIFIED = (FIELDS.index(n) for n in ("sourced_id", "status", "date_last_modified"))
CLASS, USER, ROLE = (FIELDS.index(n) for n in ("class_sourced_id", "user_sourced_id", "role"))
HASH = len(FIELDS)

Row = tuple[Any, ...]


def row_of(enrollment: Enrollment) -> Row:
    """An enrollment as the spool keeps it: its fields, then its content hash."""
    values = _ROW(enrollment)
    return (*values, digest_of(HASHED(values)))


def enrollment_of(row: Row) -> Enrollment:
    """The enrollment a spooled row was made from."""
    return Enrollment(**dict(zip(FIELDS, row[:HASH], strict=True)))


def row_hash(row: Row) -> str:
    """`Enrollment.content_hash` of a spooled row, as it was made when spooled."""
    content: str = row[HASH]
    return content


@dataclass(frozen=True, slots=True)
class SpoolFilled:
    """What a helper that filled a spool reports: where its chunks are, and what it found."""

    offsets: tuple[int, ...]
    count: int
    issues: tuple[ValidationIssue, ...]
    repeated: frozenset[str]


class SpoolHelper(Protocol):
    """Another process filling a spool (`sync.enrollment_reader`)."""

    def written(self) -> Iterator[int]:
        """Where each chunk it writes ends, as soon as it is written, until it is done."""
        ...

    def result(self) -> SpoolFilled:
        """Wait for it to finish; raise what its reading raised."""
        ...

    def cancel(self) -> None:
        """Stop it, if it still runs; idempotent."""
        ...


class EnrollmentSpool:
    """The pull's enrollments, in arrival order, on disk; their sourcedIds' hashes in memory.

    Filled by `add` in this process, or by a helper process that reads a big bundle's
    enrollments while this one reads the rest (`sync.enrollment_reader`): then `attach` hands
    the spool to that helper, `chunks` reads each chunk as soon as the helper has written it,
    and `wait` takes back the rest. Chunks are written and read at explicit offsets
    (`os.pwrite`, `os.pread`): the helper's descriptor shares the file's position with ours.
    """

    def __init__(
        self,
        chunk: int = CHUNK,
        *,
        file: IO[bytes] | None = None,
        on_flush: Callable[[int], None] | None = None,
    ) -> None:
        self.chunk = chunk
        # Told where each chunk ends once it is written (a helper tells the run).
        self._on_flush = on_flush
        # Closed by `close` (the spool outlives any one block); unnamed, so never left behind. A
        # helper process is given the file of the spool it fills.
        self._file: IO[bytes] = file or tempfile.TemporaryFile(prefix="rostersync-enrollments-")  # noqa: SIM115
        self._buffer: list[Row] = []
        # Where each chunk starts in the file, then where the last ends: a pass reads each chunk
        # in one call (`marshal.load` on a file reads it in many small ones) and can skip any.
        self._offsets: list[int] = [0]
        self.count = 0
        self._fd = self._file.fileno()
        # hash(sourcedId) of every spooled enrollment, in spool order (64-bit, this process's);
        # for a spool a helper filled, made by one pass when first asked for.
        self._keys: array[int] | None = array("q")
        # The sourcedIds spooled more than once, once known (a helper reports its own).
        self._repeated: set[str] | None = None
        # Enrollments that could not be spooled (no sourcedId): issues of the pull.
        self.issues: list[ValidationIssue] = []
        self._helper: SpoolHelper | None = None

    @property
    def fileno(self) -> int:
        """The spool file's descriptor, for a helper process to write through."""
        return self._file.fileno()

    def attach(self, helper: SpoolHelper) -> None:
        """Let `helper` fill this (empty) spool; `wait` takes over what it wrote."""
        if self.count or self._buffer or self._helper is not None:
            raise RuntimeError("a spool is filled either here or by one helper, not both")
        self._helper = helper
        self._keys = None  # made in this process once the helper is done (`keys`)

    @property
    def filling(self) -> bool:
        """Whether a helper is still filling the spool (`count` and `issues` are not final)."""
        return self._helper is not None

    def wait(self) -> None:
        """Wait for an attached helper to finish and take over its spool (no-op without one).

        Raises:
            Whatever the helper's reading raised (a refused enrollments.csv, say).
        """
        helper, self._helper = self._helper, None
        if helper is None:
            return
        filled = helper.result()
        self._offsets = list(filled.offsets)
        self.count = filled.count
        self.issues.extend(filled.issues)
        self._repeated = set(filled.repeated)

    @property
    def keys(self) -> array[int]:
        """hash(sourcedId) of every spooled enrollment, in spool order (this process's hash)."""
        if self._keys is None:
            keys = array("q")
            for _start, rows in self.chunks():
                keys.extend(hash(row[SID]) for row in rows)
            self._keys = keys
        return self._keys

    def repeated(self) -> set[str]:
        """The sourcedIds spooled more than once (exactly, not by hash)."""
        if self._repeated is None:
            suspects = duplicate_keys(self.keys)
            counts: dict[str, int] = {}
            if suspects:
                for _start, rows in self.chunks():
                    for row in rows:
                        sid = row[SID]
                        if hash(sid) in suspects:
                            counts[sid] = counts.get(sid, 0) + 1
            self._repeated = {sid for sid, n in counts.items() if n > 1}
        return self._repeated

    def add(self, enrollment: Enrollment) -> None:
        self.add_row(row_of(enrollment))

    def add_row(self, row: Row) -> None:
        """Spool one enrollment given as its row (`row_of`, or `sync.enrollment_rows`)."""
        sid = row[SID]
        if not sid:
            self.issues.append(missing_sourced_id_issue("enrollment"))
            return
        self._buffer.append(row)
        assert self._keys is not None  # only a spool filled here is added to
        self._keys.append(hash(sid))
        self.count += 1
        if len(self._buffer) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            data = memoryview(marshal.dumps(self._buffer))
            at = self._offsets[-1]
            while data:
                written = os.pwrite(self._fd, data, at)
                data, at = data[written:], at + written
            self._offsets.append(at)
            self._buffer = []
            if self._on_flush is not None:
                self._on_flush(at)

    def _read(self, number: int) -> list[Row]:
        start, end = self._offsets[number], self._offsets[number + 1]
        data = os.pread(self._fd, end - start, start)
        # Only ever what `_flush` (here or in our own helper) wrote to this unnamed file.
        rows: list[Row] = marshal.loads(data)  # noqa: S302
        return rows

    def _as_written(self, helper: SpoolHelper) -> Iterator[tuple[int, list[Row]]]:
        # Each chunk as soon as the helper says it is written, then the helper's result.
        for number, end in enumerate(helper.written()):
            self._offsets.append(end)
            yield number * self.chunk, self._read(number)
        self.wait()

    def chunks(
        self, only: Callable[[int, int], bool] | None = None
    ) -> Iterator[tuple[int, list[Row]]]:
        """(spool position of the first row, rows), CHUNK at a time, in arrival order.

        Args:
            only: Given a chunk's span of spool positions (start, end), whether to read it; the
                chunks it turns down are skipped without being read (a no-op resync's write
                pass reads nothing).
        """
        if self._helper is not None:
            if only is not None:
                raise RuntimeError("a spool a helper still fills is read whole")
            yield from self._as_written(self._helper)
            return
        self._flush()
        for number in range(len(self._offsets) - 1):
            start = number * self.chunk
            if only is not None and not only(start, min(start + self.chunk, self.count)):
                continue
            yield start, self._read(number)

    def flush(self) -> list[int]:
        """Write what is buffered; where each chunk starts, then where the last ends."""
        self._flush()
        return list(self._offsets)

    def close(self) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.cancel()
        self._file.close()

    def __enter__(self) -> EnrollmentSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def duplicate_keys(keys: array[int]) -> set[int]:
    """Hashes that occur more than once among the spooled sourcedIds (exactly checked later)."""
    if len(keys) < 2:
        return set()
    ordered = np.sort(np.frombuffer(keys, dtype=np.int64))
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    return {int(k) for k in np.unique(repeated)}
