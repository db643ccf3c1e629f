"""Enrollments, streamed: pulled to a spool on disk, validated, planned and written in chunks.

A district of a million students sends about six million enrollments, more than four in five of
all its records. Held in memory as records, with the portal's index of them and the planned
writes, they alone took gigabytes. Here they never are:

1. **Pull.** Each enrollment is written as a plain tuple, with its content hash, to an unnamed
   temporary file (the spool, in `marshal`'d chunks) and only its sourcedId's 64-bit hash is
   kept, in an array. A big bundle's enrollments are spooled by a helper process while the run
   reads the rest (`sync.enrollment_reader`); the plan then reads each chunk as it is written.
2. **Plan**, once the rest of the pull has been validated: the spool is read back a chunk at a
   time; each enrollment is judged by the same `judge_enrollment` as everywhere else, its content
   hash checked against the portal's active hashes (a sorted array, `_Known`) and, when not found
   there, against what the portal holds for its sourcedId (one query per chunk for those, never
   the whole index), and its outcome noted as one byte per spooled enrollment. What the report,
   the safeguards, the summary and the fingerprint need is counted as it goes.
3. **Deactivate**, for a complete snapshot only: when fewer active enrollments were seen than the
   portal holds, the portal's active enrollments are streamed and each whose sourcedId's hash is
   not among the pull's (a sorted array, searched in bulk) is deactivated. A hash collision can
   only make an absent enrollment look present (left active), never the reverse.
4. **Write**: the spool is read once more and the planned creates, updates and restores go to
   the writer in chunks, as small entity plans.

Memory stays at a chunk of records plus 9 bytes per enrollment (hash and outcome), and on a
resync 12 bytes per active stored enrollment (its content hash, cut to 96 bits). The spool
holds sourcedIds, roles and dates only (no names), and is deleted when the run ends or the
process dies (an unnamed file).
"""

from __future__ import annotations

import marshal
import os
import tempfile
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from functools import partial
from operator import attrgetter, itemgetter
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt

from rostersync.domain.issues import ValidationIssue
from rostersync.domain.plan import EntityPlan, PlanDigest, PlannedWrite, StreamedEntityPlan
from rostersync.domain.records import ACTIVE, Enrollment, EntityKind, StoredRecord, digest_of
from rostersync.domain.validate import (
    ENROLLMENT_ROLES,
    EnrollmentContext,
    Verdict,
    count_held,
    duplicate_issue,
    judge_enrollment,
    missing_sourced_id_issue,
)

KIND = EntityKind.ENROLLMENT
# Enrollments per spool chunk: per lookup query, per marshal record, per write.
CHUNK = 5000

# An enrollment as a tuple, in the dataclass's field order, then its content hash: made where
# the enrollment is spooled (in a helper process, for a big bundle, off the run's own core). The
# hash covers the same fields `Record.content_hash` does, in the same order.
FIELDS = tuple(f.name for f in fields(Enrollment))
_ROW = attrgetter(*FIELDS)
_HASHED = itemgetter(
    *(i for i, name in enumerate(FIELDS) if name not in ("status", "date_last_modified"))
)
_SID, _STATUS, _MODIFIED = (FIELDS.index(n) for n in ("sourced_id", "status", "date_last_modified"))
_CLASS, _USER, _ROLE = (FIELDS.index(n) for n in ("class_sourced_id", "user_sourced_id", "role"))
_HASH = len(FIELDS)

Row = tuple[Any, ...]

# One byte per spooled enrollment: what the plan does with it.
SKIP, CREATE, UPDATE, RESTORE = 0, 1, 2, 3


def row_of(enrollment: Enrollment) -> Row:
    """An enrollment as the spool keeps it: its fields, then its content hash."""
    values = _ROW(enrollment)
    return (*values, digest_of(_HASHED(values)))


def enrollment_of(row: Row) -> Enrollment:
    """The enrollment a spooled row was made from."""
    return Enrollment(**dict(zip(FIELDS, row[:_HASH], strict=True)))


def row_hash(row: Row) -> str:
    """`Enrollment.content_hash` of a spooled row, as it was made when spooled."""
    content: str = row[_HASH]
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
                keys.extend(hash(row[_SID]) for row in rows)
            self._keys = keys
        return self._keys

    def repeated(self) -> set[str]:
        """The sourcedIds spooled more than once (exactly, not by hash)."""
        if self._repeated is None:
            suspects = _duplicate_keys(self.keys)
            counts: dict[str, int] = {}
            if suspects:
                for _start, rows in self.chunks():
                    for row in rows:
                        sid = row[_SID]
                        if hash(sid) in suspects:
                            counts[sid] = counts.get(sid, 0) + 1
            self._repeated = {sid for sid, n in counts.items() if n > 1}
        return self._repeated

    def add(self, enrollment: Enrollment) -> None:
        sid = enrollment.sourced_id
        if not sid:
            self.issues.append(missing_sourced_id_issue("enrollment"))
            return
        self._buffer.append(row_of(enrollment))
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


@dataclass(slots=True, kw_only=True)
class StoredEnrollments:
    """How the plan reads what the portal holds, bound to a connection by the caller."""

    # (rows with a sourcedId, of which active)
    counts: tuple[int, int]
    lookup: Callable[[Sequence[str]], dict[str, StoredRecord]]
    active: Callable[[], Iterator[list[tuple[str, str]]]]
    # The content hashes of the active ones, streamed: given, an enrollment whose hash is among
    # them is known unchanged without a lookup (see `_Known`).
    active_hashes: Callable[[], Iterator[list[str]]] | None = None


@dataclass(slots=True, kw_only=True)
class EnrollmentPlan:
    """The outcome of planning the spool: the counts, and what the write pass needs."""

    plan: StreamedEntityPlan
    issues: list[ValidationIssue] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    skipped: dict[str, int] = field(default_factory=dict)
    # One outcome byte per spooled enrollment, and the portal id of each update or restore.
    actions: bytearray = field(default_factory=bytearray)
    ids: dict[int, str] = field(default_factory=dict)
    # The distinct dateLastModified stamps pulled, and (delta pulls only) every sourcedId.
    stamps: set[str] = field(default_factory=set)
    pulled: set[str] | None = None
    # Whether any enrollment was pulled at all (an empty collection is never a snapshot).
    present: bool = False


def plan_enrollments(
    spool: EnrollmentSpool,
    context: EnrollmentContext,
    stored: StoredEnrollments,
    *,
    complete: bool,
    delta: bool,
    digest: PlanDigest,
    cap: int,
) -> EnrollmentPlan:
    """Judge, diff and count every spooled enrollment; see the module docstring.

    A spool a helper still fills is planned chunk by chunk as the helper writes, as if no
    sourcedId came twice; the helper finds out whether one did only at the end. Then (a rare,
    broken roster) the plan is made again, knowing which.

    Args:
        spool: The pull's enrollments.
        context: The classes and people of the same pull (from `validate_roster`).
        stored: What the portal holds, read a chunk at a time.
        complete: The enrollments arrived whole as a full snapshot: absence means removal.
        delta: Keep every pulled sourcedId (a delta run closes only pulled records' issues).
        digest: The run's fingerprint; each planned change is added to it.
        cap: How many sourcedIds per outcome the summary keeps.
    """
    plan = partial(_plan, spool, context, stored, complete=complete, delta=delta, cap=cap)
    if spool.filling:
        trial = PlanDigest(digest.cap)
        planned = plan(set(), digest=trial)
        if not spool.repeated():
            digest.absorb(trial)
            return planned
    return plan(spool.repeated(), digest=digest)


def _plan(
    spool: EnrollmentSpool,
    context: EnrollmentContext,
    stored: StoredEnrollments,
    duplicates: set[str],
    *,
    complete: bool,
    delta: bool,
    digest: PlanDigest,
    cap: int,
) -> EnrollmentPlan:
    total, active_before = stored.counts
    result = EnrollmentPlan(
        plan=StreamedEntityPlan(kind=KIND, cap=cap, active_before=active_before),
        pulled=set() if delta else None,
    )
    plan, actions, ids, held = result.plan, result.actions, result.ids, result.held
    first = plan.first
    seen_active = 0
    first_of_duplicate: set[str] = set()
    classes_ok, people_known = context.classes_ok, context.people_known
    chunks: Iterator[tuple[list[Row], dict[str, StoredRecord], list[bool] | None]]
    if total and stored.active_hashes is not None:
        chunks = _Known.load(stored.active_hashes()).chunks(spool, stored.lookup)
    else:
        chunks = (
            (rows, existing, None)
            for rows, existing in _looked_up(spool.chunks(), stored.lookup if total else None)
        )
    position = 0
    for rows, existing, known in chunks:
        for offset, row in enumerate(rows):
            sid = row[_SID]
            action = SKIP
            if duplicates and sid in duplicates:
                if sid in first_of_duplicate:
                    result.issues.append(duplicate_issue("enrollment", sid))
                    actions.append(SKIP)
                    position += 1
                    continue
                first_of_duplicate.add(sid)
            result.present = True
            if result.pulled is not None:
                result.pulled.add(sid)
            if row[_MODIFIED]:
                result.stamps.add(row[_MODIFIED])
            found = _UNCHANGED if known is not None and known[offset] else existing.get(sid)
            if found is not None and found.active:
                seen_active += 1
            if (
                row[_STATUS] == ACTIVE
                and row[_CLASS] in classes_ok
                and row[_USER] in people_known
                and row[_ROLE] in ENROLLMENT_ROLES
            ):
                verdict = Verdict.VALID
            else:
                judged = enrollment_of(row)
                verdict, issues = judge_enrollment(judged, context)
                result.issues.extend(issues)
            if verdict is Verdict.REMOVAL:
                if found is not None and found.active:
                    plan.deactivations.append((found.id, sid))
                    first["deactivated"].add(sid)
                    digest.add(f"{KIND}|deactivate|{sid}")
            elif verdict is not Verdict.VALID:
                held.add(sid)
                plan.held += 1
                # Counted with the record it waits for, or as pointing at a deleted one.
                count_held(result.skipped, (verdict, issues), judged, context)
            elif found is _UNCHANGED:
                plan.unchanged += 1
            else:
                content = row_hash(row)
                if found is None:
                    action, outcome = CREATE, "create"
                    plan.created += 1
                    first["created"].add(sid)
                elif not found.active:
                    action, outcome = RESTORE, "restore"
                    plan.restored += 1
                    first["restored"].add(sid)
                    ids[position] = found.id
                elif found.content_hash != content:
                    action, outcome = UPDATE, "update"
                    plan.updated += 1
                    first["updated"].add(sid)
                    ids[position] = found.id
                else:
                    plan.unchanged += 1
                if action != SKIP:
                    digest.add(f"{KIND}|{outcome}|{sid}|{content}")
            actions.append(action)
            position += 1
    # The spool's own issues (known once it is filled) come first, as the pull found them.
    result.issues[:0] = spool.issues
    if complete and result.present and seen_active < active_before:
        for found_id, sid in _absent(spool.keys, stored.active()):
            plan.deactivations.append((found_id, sid))
            first["deactivated"].add(sid)
            digest.add(f"{KIND}|deactivate|{sid}")
    return result


# An enrollment known unchanged (and active) from the portal's hashes, without a lookup.
_UNCHANGED = StoredRecord("", "", "", True, False)

# Bytes of a content hash kept per active stored enrollment: 96 bits, so a changed enrollment is
# taken for an unchanged one (its new hash matching another's first 96 bits) about once in
# 10**15 resyncs of a six-million-enrollment district.
_KNOWN_BYTES = 12


class _Known:
    """The content hashes of the portal's active enrollments, sorted, `_KNOWN_BYTES` of each.

    A content hash covers the sourcedId, so an active enrollment sent with a hash found here is
    the same as the stored one and needs no lookup: a no-op resync makes none at all, where
    looking every chunk up costs an index probe per enrollment. Those not found here (new,
    changed, returning, or sent with another status) are looked up as before.
    """

    def __init__(self, hashes: npt.NDArray[np.bytes_]) -> None:
        self.hashes = hashes

    @classmethod
    def load(cls, batches: Iterator[list[str]]) -> _Known:
        width = 2 * _KNOWN_BYTES
        parts = [
            np.frombuffer(
                bytes.fromhex("".join(h[:width] for h in batch if len(h) >= width)),
                dtype=f"S{_KNOWN_BYTES}",
            )
            for batch in batches
        ]
        hashes = np.concatenate(parts) if parts else np.empty(0, dtype=f"S{_KNOWN_BYTES}")
        hashes.sort()
        return cls(hashes)

    def unchanged(self, rows: Sequence[Row]) -> list[bool]:
        """For each row: sent active, with a content hash the portal holds for an active one."""
        if not len(self.hashes) or not rows:
            return [False] * len(rows)
        width = 2 * _KNOWN_BYTES
        sent = np.frombuffer(
            bytes.fromhex("".join(row[_HASH][:width] for row in rows)),
            dtype=f"S{_KNOWN_BYTES}",
        )
        at = np.minimum(np.searchsorted(self.hashes, sent), len(self.hashes) - 1)
        found: list[bool] = (self.hashes[at] == sent).tolist()
        return [hit and row[_STATUS] == ACTIVE for hit, row in zip(found, rows, strict=True)]

    def chunks(
        self, spool: EnrollmentSpool, lookup: Callable[[Sequence[str]], dict[str, StoredRecord]]
    ) -> Iterator[tuple[list[Row], dict[str, StoredRecord], list[bool]]]:
        """Each spool chunk, what the portal holds for the rows not known unchanged (one lookup
        for them, none when there are none), and which rows are known unchanged."""
        for _start, rows in spool.chunks():
            known = self.unchanged(rows)
            rest = [row[_SID] for row, hit in zip(rows, known, strict=True) if not hit]
            yield rows, (lookup(rest) if rest else {}), known


def _looked_up(
    chunks: Iterator[tuple[int, list[Row]]],
    lookup: Callable[[Sequence[str]], dict[str, StoredRecord]] | None,
) -> Iterator[tuple[list[Row], dict[str, StoredRecord]]]:
    """Each chunk with what the portal holds for its sourcedIds, the next chunk's lookup
    running in a helper thread while this one is judged.

    The lookup mostly waits on the database (which works on another core), so overlapping it
    with the judging takes most of its time off the run. Only the helper uses the connection
    while a lookup is pending, and at most two chunks are held at once.
    """
    if lookup is None:
        for _start, rows in chunks:
            yield rows, {}
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrollment-lookup") as helper:
        pending: tuple[list[Row], Future[dict[str, StoredRecord]]] | None = None
        for _start, rows in chunks:
            ahead = (rows, helper.submit(lookup, [row[_SID] for row in rows]))
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = ahead
        if pending is not None:
            yield pending[0], pending[1].result()


def _duplicate_keys(keys: array[int]) -> set[int]:
    """Hashes that occur more than once among the spooled sourcedIds (exactly checked later)."""
    if len(keys) < 2:
        return set()
    ordered = np.sort(np.frombuffer(keys, dtype=np.int64))
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    return {int(k) for k in np.unique(repeated)}


def _absent(keys: array[int], active: Iterator[list[tuple[str, str]]]) -> Iterator[tuple[str, str]]:
    """The active stored enrollments whose sourcedId's hash is not among the pulled ones."""
    pulled: npt.NDArray[np.int64] = np.sort(np.frombuffer(keys, dtype=np.int64))
    if not len(pulled):
        for rows in active:
            yield from rows
        return
    for rows in active:
        wanted = np.fromiter((hash(sid) for _id, sid in rows), dtype=np.int64, count=len(rows))
        at = np.minimum(np.searchsorted(pulled, wanted), len(pulled) - 1)
        missing = np.flatnonzero(pulled[at] != wanted)
        for i in missing.tolist():
            yield rows[i]


def writes(
    spool: EnrollmentSpool, planned: EnrollmentPlan, new_id: Callable[[], str] | None = None
) -> Iterator[EntityPlan]:
    """The planned writes as small entity plans, a spool chunk at a time, then the
    deactivations; each goes to the store's writer as it comes."""
    make_id = new_id or (lambda: str(uuid.uuid4()))
    actions, ids = planned.actions, planned.ids

    def has_writes(start: int, end: int) -> bool:
        return actions.count(SKIP, start, end) != end - start

    for position, rows in spool.chunks(only=has_writes):
        chunk = EntityPlan(kind=KIND)
        for row in rows:
            action = actions[position]
            if action != SKIP:
                record = enrollment_of(row)
                if action == CREATE:
                    chunk.creates.append(PlannedWrite(make_id(), record, row_hash(row)))
                elif action == UPDATE:
                    chunk.updates.append(PlannedWrite(ids[position], record, row_hash(row)))
                else:
                    chunk.restores.append(PlannedWrite(ids[position], record, row_hash(row)))
            position += 1
        if chunk.change_count:
            yield chunk
    gone, size = planned.plan.deactivations, spool.chunk
    for start in range(0, len(gone), size):
        chunk = EntityPlan(kind=KIND)
        chunk.deactivations = [
            StoredRecord(id_, sid, "", True, False) for id_, sid in gone[start : start + size]
        ]
        yield chunk
