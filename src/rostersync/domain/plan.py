"""Planning: what a sync would change in the portal, computed from hashes alone.

`plan_entity` compares the valid records a source sent with what the portal holds for the same
sourcedIds and sorts each into create, update, restore, unchanged or deactivate. A `SyncPlan` is the
whole of one run's intent; the store applies it in one transaction and nothing else decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
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

    @property
    def change_count(self) -> int:
        return sum(p.change_count for p in self.entities.values()) + len(self.eligibility)

    def counts(self) -> dict[str, dict[str, int]]:
        return {kind.value: plan.counts() for kind, plan in self.entities.items()}


def plan_entity(
    kind: EntityKind,
    records: Iterable[Record],
    stored: Mapping[str, StoredRecord],
    *,
    complete: bool,
    held: Collection[str] = frozenset(),
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
        new_id: Makes portal ids for new records (injectable for deterministic tests).

    Returns:
        The entity plan. Records marked `tobedeleted` are deactivated, never created.
    """
    plan = EntityPlan(kind=kind, held=len(held))
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
                and existing.active
                and not existing.manually_rostered
            ):
                plan.deactivations.append(existing)
    return plan


def plan_sync(
    roster: ValidatedRoster,
    stored: Mapping[EntityKind, Mapping[str, StoredRecord]],
    eligibility: Mapping[str, Eligibility],
    rules: DistrictRules,
    *,
    complete_kinds: Collection[EntityKind],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> SyncPlan:
    """Plan a whole run: every kind, plus the eligibility changes the district's rules allow.

    Args:
        roster: The validated pull.
        stored: What the portal holds per kind, keyed by sourcedId.
        eligibility: Current eligibility per portal student id.
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
            new_id=new_id,
        )
        for kind in EntityKind
    }
    students = entities[EntityKind.STUDENT]
    changes: list[EligibilityChange] = []
    for record in roster.valid[EntityKind.STUDENT]:
        if not isinstance(record, Student) or record.status != "active":
            continue
        portal_id = students.ids[record.sourced_id]
        change = plan_eligibility(
            rules, portal_id, eligibility.get(portal_id), record.eligibility_value
        )
        if change is not None:
            changes.append(change)
    return SyncPlan(
        entities=entities,
        issues=list(roster.issues),
        skipped=dict(roster.skipped),
        eligibility=changes,
    )
