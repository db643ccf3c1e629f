"""Planning: what a sync would change in the portal, computed from hashes alone.

`plan_entity` compares the valid records a source sent with what the portal holds for the same
sourcedIds and sorts each into create, update, restore, unchanged or deactivate. A `SyncPlan` is the
whole of one run's intent; the store applies it in one transaction and nothing else decides.
"""

from __future__ import annotations

import hashlib
import heapq
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from rostersync.domain.eligibility import Eligibility, EligibilityChange, plan_eligibility
from rostersync.domain.issues import ValidationIssue
from rostersync.domain.records import EntityKind, Record, StoredRecord, Student
from rostersync.domain.rules import DistrictRules
from rostersync.domain.validate import ValidatedRoster


class PlannedWrite(NamedTuple):
    """One record to write; `id` is the portal id (new on create, kept on update and restore).

    A named tuple: a first sync of a big district plans millions, and a tuple is built several
    times faster than a frozen dataclass.
    """

    id: str
    record: Record
    content_hash: str


@dataclass(slots=True, kw_only=True)
class EntityPlan:
    """The planned changes for one kind of record."""

    kind: EntityKind
    creates: list[PlannedWrite] = field(default_factory=list)
    updates: list[PlannedWrite] = field(default_factory=list)
    restores: list[PlannedWrite] = field(default_factory=list)
    deactivations: list[StoredRecord] = field(default_factory=list)
    unchanged: int = 0
    # Present in the source but failed validation (or wait on a record that did): left as they are.
    held: int = 0
    # Portal id of every valid record present in the source, so later kinds can resolve references.
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def change_count(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.restores) + len(self.deactivations)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.creates),
            "updated": len(self.updates),
            "restored": len(self.restores),
            "deactivated": len(self.deactivations),
            "unchanged": self.unchanged,
            "held": self.held,
        }


@dataclass(slots=True, kw_only=True)
class SyncPlan:
    """Everything one sync run intends to do, before anything is written."""

    entities: dict[EntityKind, EntityPlan]
    issues: list[ValidationIssue] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    eligibility: list[EligibilityChange] = field(default_factory=list)
    # Kinds planned while streaming (enrollments of a pipeline run): these replace the kind's
    # (empty) entry in `entities` for counting, summarising and writing.
    streamed: dict[EntityKind, StreamedEntityPlan] = field(default_factory=dict)

    @property
    def change_count(self) -> int:
        return (
            sum(p.change_count for k, p in self.entities.items() if k not in self.streamed)
            + sum(p.change_count for p in self.streamed.values())
            + len(self.eligibility)
        )

    def counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for kind in EntityKind:
            streamed = self.streamed.get(kind)
            if streamed is not None:
                counts[kind.value] = streamed.counts()
            elif kind in self.entities:
                counts[kind.value] = self.entities[kind].counts()
        return counts


def plan_entity(
    kind: EntityKind,
    records: Iterable[Record],
    stored: Mapping[str, StoredRecord],
    *,
    complete: bool,
    held: Collection[str] = frozenset(),
    unchanged: Collection[str] = frozenset(),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> EntityPlan:
    """Diff one kind of valid source record against what the portal holds.

    Args:
        kind: The kind being planned.
        records: The valid records the source sent (each sourcedId once).
        stored: What the portal holds for this district and kind, keyed by sourcedId.
        complete: True only when the source collection arrived whole as a full snapshot. Absence
            means "left the district" only then; a partial or delta pull never deactivates anyone.
        held: sourcedIds present in the source that failed validation: never deactivated for
            being absent from `records`, never changed.
        unchanged: sourcedIds whose rows were known unchanged without being mapped
            (`domain.unchanged_rows`): active records the portal holds as they are.
        new_id: Makes portal ids for new records (injectable for deterministic tests).

    Returns:
        The entity plan. Records marked `tobedeleted` are deactivated, never created.
    """
    plan = EntityPlan(kind=kind, held=len(held), unchanged=len(unchanged))
    seen: set[str] = set()
    for record in records:
        sid = record.sourced_id
        seen.add(sid)
        existing = stored.get(sid)
        if record.status != "active":
            if existing is not None and existing.active and not existing.manually_rostered:
                plan.deactivations.append(existing)
            continue
        digest = record.content_hash()
        if existing is None:
            write = PlannedWrite(id=new_id(), record=record, content_hash=digest)
            plan.creates.append(write)
        elif not existing.active:
            write = PlannedWrite(id=existing.id, record=record, content_hash=digest)
            plan.restores.append(write)
        elif existing.content_hash != digest:
            write = PlannedWrite(id=existing.id, record=record, content_hash=digest)
            plan.updates.append(write)
        else:
            plan.ids[sid] = existing.id
            plan.unchanged += 1
            continue
        plan.ids[sid] = write.id
    if complete:
        for sid, existing in stored.items():
            if (
                sid not in seen
                and sid not in held
                and sid not in unchanged
                and existing.active
                and not existing.manually_rostered
            ):
                plan.deactivations.append(existing)
    return plan


# Students whose current eligibility is read at a time, when it is read from the store.
ELIGIBILITY_CHUNK = 5000


def plan_sync(
    roster: ValidatedRoster,
    stored: Mapping[EntityKind, Mapping[str, StoredRecord]],
    eligibility: Mapping[str, Eligibility] | Callable[[Sequence[str]], Mapping[str, Eligibility]],
    rules: DistrictRules,
    *,
    complete_kinds: Collection[EntityKind],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> SyncPlan:
    """Plan a whole run: every kind, plus the eligibility changes the district's rules allow.

    Args:
        roster: The validated pull.
        stored: What the portal holds per kind, keyed by sourcedId.
        eligibility: Current eligibility per portal student id, or how to read it for a list
            of ids (asked ELIGIBILITY_CHUNK students at a time, so a big district's is never
            held whole).
        rules: The district's questionnaire answers.
        complete_kinds: The kinds whose collection arrived whole, as a full snapshot, and not
            empty: only for these may absence mean "left the district".
        new_id: Makes portal ids for new records.

    Returns:
        The plan, with the validation issues and skip counts carried along for the run's report.
    """
    entities = {
        kind: plan_entity(
            kind,
            roster.valid[kind],
            stored.get(kind, {}),
            complete=kind in complete_kinds,
            held=roster.held[kind],
            unchanged=roster.unchanged.get(kind, frozenset()),
            new_id=new_id,
        )
        for kind in EntityKind
    }
    students = entities[EntityKind.STUDENT]
    current = eligibility if callable(eligibility) else (lambda _ids: eligibility)
    changes: list[EligibilityChange] = []
    active = (
        (students.ids[r.sourced_id], r)
        for r in roster.valid[EntityKind.STUDENT]
        if isinstance(r, Student) and r.status == "active"
    )
    while chunk := list(islice(active, ELIGIBILITY_CHUNK)):
        found = current([portal_id for portal_id, _record in chunk])
        for portal_id, record in chunk:
            change = plan_eligibility(
                rules, portal_id, found.get(portal_id), record.eligibility_value
            )
            if change is not None:
                changes.append(change)
    return SyncPlan(
        entities=entities,
        issues=list(roster.issues),
        skipped=dict(roster.skipped),
        eligibility=changes,
    )


class SmallestN:
    """The `n` smallest strings of a stream, in order, without keeping the stream.

    For a plan summary's capped sourcedId lists: millions of values pass, `n` are kept. Values are
    buffered and cut back to the `n` smallest whenever the buffer holds 2n, so each value costs
    an append and, amortised, a fraction of a sort.
    """

    __slots__ = ("_n", "_values")

    def __init__(self, n: int) -> None:
        self._n = n
        self._values: list[str] = []

    def add(self, value: str) -> None:
        values = self._values
        values.append(value)
        if len(values) >= 2 * self._n:
            values.sort()
            del values[self._n :]

    def result(self) -> list[str]:
        """The smallest values seen, sorted, at most `n`."""
        return sorted(self._values)[: self._n]


@dataclass(slots=True, kw_only=True)
class StreamedEntityPlan:
    """A kind planned while streaming (enrollments): counts and capped lists, not every write.

    The writes themselves stay where the stream put them (a spool on disk); this holds what the
    report, the summary, the safeguards and the fingerprint need, in memory that does not grow
    with the district: counts, the `cap` smallest sourcedIds per outcome, and the deactivations.
    """

    kind: EntityKind
    cap: int
    created: int = 0
    updated: int = 0
    restored: int = 0
    unchanged: int = 0
    held: int = 0
    # Active records the portal holds of this kind, for the safeguards' percentages.
    active_before: int = 0
    # (portal id, sourcedId) of every record to deactivate.
    deactivations: list[tuple[str, str]] = field(default_factory=list)
    first: dict[str, SmallestN] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for outcome in ("created", "updated", "restored", "deactivated"):
            self.first.setdefault(outcome, SmallestN(self.cap))

    @property
    def change_count(self) -> int:
        return self.created + self.updated + self.restored + len(self.deactivations)

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "restored": self.restored,
            "deactivated": len(self.deactivations),
            "unchanged": self.unchanged,
            "held": self.held,
        }

    def first_sourced_ids(self, outcome: str) -> list[str]:
        """The smallest sourcedIds of one outcome (created, updated, restored, deactivated)."""
        if outcome == "deactivated":
            return heapq.nsmallest(self.cap, (sid for _id, sid in self.deactivations))
        return self.first[outcome].result()


class PlanDigest:
    """A plan's fingerprint, built one planned change at a time, in any order.

    Each change is a short text (kind, outcome, sourcedId, content hash); the fingerprint is a
    hash over how many there were and the sum of their 128-bit digests, so two plans of the same
    roster agree whatever order their changes were found in, and nothing grows with the plan.
    The first `cap` changes' 8-byte digests are also kept (sorted, in hex) so a refused approval
    can say how many changes differ; past `cap`, only the count is kept.
    """

    __slots__ = ("_cap", "_items", "_sum", "count")

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._sum = 0
        self._items: list[str] | None = []
        self.count = 0

    def add(self, change: str) -> None:
        digest = hashlib.blake2b(change.encode(), digest_size=16).digest()
        self._sum += int.from_bytes(digest, "big")
        self.count += 1
        items = self._items
        if items is not None:
            if len(items) < self._cap:
                items.append(digest[:8].hex())
            else:
                self._items = None

    @property
    def cap(self) -> int:
        return self._cap

    def absorb(self, other: PlanDigest) -> None:
        """Add every change `other` was given, as if each had been added here."""
        self._sum += other._sum
        self.count += other.count
        if self._items is not None:
            if other._items is None or len(self._items) + len(other._items) > self._cap:
                self._items = None
            else:
                self._items.extend(other._items)

    def fingerprint(self) -> str:
        total = self._sum % (1 << 128)
        return hashlib.sha256(f"{self.count}:{total:032x}".encode()).hexdigest()

    def items(self) -> list[str] | None:
        """The changes' short digests, sorted; None when there were more than `cap`."""
        return None if self._items is None else sorted(self._items)
