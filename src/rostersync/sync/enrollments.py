"""Enrollments, streamed: pulled to a spool on disk, validated, planned and written in chunks.

A district of a million students sends about six million enrollments, more than four in five of
all its records. Held in memory as records, with the portal's index of them and the planned
writes, they alone took gigabytes. Here they never are:

1. **Pull.** Each enrollment is written as a plain tuple, with its content hash, to an unnamed
   temporary file (the spool, in `marshal`'d chunks: `sync.enrollment_spool`) and only its
   sourcedId's 64-bit hash is kept, in an array. A big bundle's enrollments are spooled by a
   helper process while the run reads the rest (`sync.enrollment_reader`); the plan then reads
   each chunk as it is written.
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

import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from rostersync.domain.issues import ValidationIssue
from rostersync.domain.plan import EntityPlan, PlanDigest, PlannedWrite, StreamedEntityPlan
from rostersync.domain.records import ACTIVE, EntityKind, StoredRecord
from rostersync.domain.validate import duplicate_issue
from rostersync.domain.validate_enrollments import (
    ENROLLMENT_ROLES,
    EnrollmentContext,
    Verdict,
    count_held,
    judge_enrollment,
)
from rostersync.sync.enrollment_spool import CHUNK as CHUNK
from rostersync.sync.enrollment_spool import (
    CLASS,
    HASH,
    MODIFIED,
    ROLE,
    SID,
    STATUS,
    USER,
    Row,
)
from rostersync.sync.enrollment_spool import EnrollmentSpool as EnrollmentSpool
from rostersync.sync.enrollment_spool import SpoolFilled as SpoolFilled
from rostersync.sync.enrollment_spool import SpoolHelper as SpoolHelper
from rostersync.sync.enrollment_spool import enrollment_of as enrollment_of
from rostersync.sync.enrollment_spool import row_hash as row_hash
from rostersync.sync.enrollment_spool import row_of as row_of

KIND = EntityKind.ENROLLMENT
# One byte per spooled enrollment: what the plan does with it.
SKIP, CREATE, UPDATE, RESTORE = 0, 1, 2, 3


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
            sid = row[SID]
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
            if row[MODIFIED]:
                result.stamps.add(row[MODIFIED])
            found = _UNCHANGED if known is not None and known[offset] else existing.get(sid)
            if found is not None and found.active:
                seen_active += 1
            if (
                row[STATUS] == ACTIVE
                and row[CLASS] in classes_ok
                and row[USER] in people_known
                and row[ROLE] in ENROLLMENT_ROLES
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


def _split(
    hashes: npt.NDArray[np.bytes_],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
    """12-byte hashes as their first 8 bytes and next 4, each a big-endian unsigned integer."""
    parts = hashes.view(np.dtype([("high", ">u8"), ("low", ">u4")]))
    return parts["high"].astype(np.uint64), parts["low"].astype(np.uint32)


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

    Each kept hash is held as two numbers, its first 8 bytes (`high`) and its next 4 (`low`),
    sorted as the bytes sort: a search is then numpy's over 64-bit integers, several times faster
    than over 12-byte strings, and the low part settles it (every entry with an equal high part
    is tried, which two different enrollments share about once in 10**7 districts).
    """

    def __init__(self, high: npt.NDArray[np.uint64], low: npt.NDArray[np.uint32]) -> None:
        self.high, self.low = high, low

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
        hashes.sort()  # as bytes: the order of (high, low) read big-endian
        high, low = _split(hashes)
        return cls(high, low)

    def unchanged(self, rows: Sequence[Row]) -> list[bool]:
        """For each row: sent active, with a content hash the portal holds for an active one."""
        count = len(self.high)
        if not count or not rows:
            return [False] * len(rows)
        width = 2 * _KNOWN_BYTES
        high, low = _split(
            np.frombuffer(
                bytes.fromhex("".join(row[HASH][:width] for row in rows)),
                dtype=f"S{_KNOWN_BYTES}",
            )
        )
        at = np.minimum(np.searchsorted(self.high, high), count - 1)
        same_high = self.high[at] == high
        hit = same_high & (self.low[at] == low)
        # The first entry with an equal high part had another low part: try the rest of them.
        for i in np.flatnonzero(same_high & ~hit).tolist():
            j = int(at[i]) + 1
            while j < count and self.high[j] == high[i]:
                if self.low[j] == low[i]:
                    hit[i] = True
                    break
                j += 1
        found: list[bool] = hit.tolist()
        return [hit and row[STATUS] == ACTIVE for hit, row in zip(found, rows, strict=True)]

    def chunks(
        self, spool: EnrollmentSpool, lookup: Callable[[Sequence[str]], dict[str, StoredRecord]]
    ) -> Iterator[tuple[list[Row], dict[str, StoredRecord], list[bool]]]:
        """Each spool chunk, what the portal holds for the rows not known unchanged (one lookup
        for them, none when there are none), and which rows are known unchanged."""
        for _start, rows in spool.chunks():
            known = self.unchanged(rows)
            rest = [row[SID] for row, hit in zip(rows, known, strict=True) if not hit]
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
            ahead = (rows, helper.submit(lookup, [row[SID] for row in rows]))
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = ahead
        if pending is not None:
            yield pending[0], pending[1].result()


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
