"""Safeguards: when a sync's plan is too big to apply without a person looking at it first.

A source that suddenly drops a third of a district's students is far more often a broken export
than a real exodus. Per district and kind of record, a plan whose deactivations or updates exceed
a threshold is held: nothing is written until someone approves or discards it
(docs/decisions/0005-safeguard-thresholds.md). A pause window (the summer freeze) makes scheduled
syncs skip altogether.

A full pull that brings none of a kind the portal holds (no users, no enrollments) changes
nothing, since an empty collection is never a snapshot, but it is never a silent success
either: the run carries an `empty_collection` warning for each such kind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.match import MatchResult
from rostersync.domain.plan import SyncPlan
from rostersync.domain.records import EntityKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """Limits for one kind of record; a plan over any of them is held.

    Ratios are of the records of that kind active in the portal before the run.
    """

    max_deactivation_ratio: float = 0.10
    max_deactivations: int = 500
    max_update_ratio: float = 0.75


@dataclass(frozen=True, slots=True, kw_only=True)
class Safeguards:
    """A district's thresholds: one default, optionally overridden per kind of record."""

    default: Threshold = field(default_factory=Threshold)
    per_kind: Mapping[str, Threshold] = field(default_factory=dict)

    def for_kind(self, kind: EntityKind) -> Threshold:
        """The threshold that applies to `kind`."""
        return self.per_kind.get(kind.value, self.default)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form, as stored per district."""
        return {
            "default": asdict(self.default),
            "per_kind": {kind: asdict(t) for kind, t in self.per_kind.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Safeguards:
        """Read the stored form; missing parts fall back to the defaults.

        Raises:
            ValueError: A kind that is not a roster kind, or a limit that is not a number.
        """
        if not data:
            return cls()
        default = Threshold(**data.get("default", {}))
        per_kind: dict[str, Threshold] = {}
        for kind, values in (data.get("per_kind") or {}).items():
            EntityKind(kind)  # refuse typos rather than silently ignore them
            per_kind[kind] = Threshold(**{**asdict(default), **values})
        return cls(default=default, per_kind=per_kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSize:
    """What one kind's plan would do, next to how many records of that kind are active now."""

    kind: EntityKind
    active: int
    updates: int
    deactivations: int


def check_plan(sizes: Mapping[EntityKind, PlanSize], safeguards: Safeguards) -> list[str]:
    """Why a plan must be held, one sentence per tripped limit; empty when it may be applied.

    Args:
        sizes: Per kind, the plan's updates and deactivations and the active count before it.
        safeguards: The district's thresholds.

    Returns:
        Reasons such as "students: 120 deactivations is 40% of 300 active (limit 10%)".
    """
    reasons: list[str] = []
    for kind in EntityKind:
        size = sizes.get(kind)
        if size is None:
            continue
        limit = safeguards.for_kind(kind)
        label = kind.plural
        gone = size.deactivations
        if gone > limit.max_deactivations:
            reasons.append(f"{label}: {gone} deactivations is more than {limit.max_deactivations}")
        elif size.active and gone / size.active > limit.max_deactivation_ratio:
            reasons.append(
                f"{label}: {gone} deactivations is {_pct(gone / size.active)} of {size.active} "
                f"active (limit {_pct(limit.max_deactivation_ratio)})"
            )
        # A first sync has nothing active to update, so a ratio is only meaningful above zero.
        if size.active and size.updates / size.active > limit.max_update_ratio:
            reasons.append(
                f"{label}: {size.updates} updates is {_pct(size.updates / size.active)} of "
                f"{size.active} active (limit {_pct(limit.max_update_ratio)})"
            )
    return reasons


def held_reasons(plan: SyncPlan, matched: MatchResult, safeguards: Safeguards) -> list[str]:
    """Why a run's plan must be held (see `check_plan`), sized from the plan and the match."""
    sizes: dict[EntityKind, PlanSize] = {}
    for kind, streamed in plan.streamed.items():
        sizes[kind] = PlanSize(
            kind=kind,
            active=streamed.active_before,
            updates=streamed.updated,
            deactivations=len(streamed.deactivations),
        )
    for kind, entity in plan.entities.items():
        if kind in plan.streamed:
            continue
        index = matched.stored.get(kind, {})
        matched_ids = {m.account_id for m in matched.matches.get(kind, [])}
        # A match is reviewed by its own key; only ordinary updates count against the limit.
        updates = sum(1 for w in entity.updates if w.id not in matched_ids)
        sizes[kind] = PlanSize(
            kind=kind,
            active=sum(1 for s in index.values() if s.active and s.id not in matched_ids),
            updates=updates,
            deactivations=len(entity.deactivations),
        )
    return check_plan(sizes, safeguards)


# The OneRoster collection each kind is pulled from, as a data manager sees it in ClassLink.
_COLLECTION = {
    EntityKind.ORG: "orgs",
    EntityKind.ACADEMIC_SESSION: "academicSessions",
    EntityKind.COURSE: "courses",
    EntityKind.CLASS: "classes",
    EntityKind.EDUCATOR: "users",
    EntityKind.STUDENT: "users",
    EntityKind.ENROLLMENT: "enrollments",
}


def empty_pull_warnings(
    plan: SyncPlan, matched: MatchResult, pulled: Collection[EntityKind]
) -> list[ValidationIssue]:
    """A warning for each kind a full pull brought none of while the portal holds it active.

    Args:
        plan: The run's plan (the active count of streamed kinds comes from it).
        matched: The match result (the stored index of the other kinds).
        pulled: The kinds of which the pull brought at least one record, valid or held.

    Returns:
        One `empty_collection` warning per such kind, naming how many are active; the kind's
        records are left as they are (an empty collection never deactivates).
    """
    warnings: list[ValidationIssue] = []
    for kind in EntityKind:
        if kind in pulled:
            continue
        streamed = plan.streamed.get(kind)
        if streamed is not None:
            active = streamed.active_before
        else:
            active = sum(1 for s in matched.stored.get(kind, {}).values() if s.active)
        if active:
            warnings.append(empty_collection(kind, active))
    return warnings


def empty_collection(kind: EntityKind, active: int) -> ValidationIssue:
    """The warning for a full pull with no record of `kind` while `active` are in the portal."""
    collection = _COLLECTION[kind]
    return ValidationIssue(
        entity=kind.value,
        sourced_id="",
        field=collection,
        code="empty_collection",
        message=(
            f"the roster sent no {kind.plural} ({collection} was empty) while {active} are "
            "active in the portal; they were kept as they are, none was deactivated"
        ),
        fix=(
            f"check in ClassLink that this district's {collection} are still shared with the "
            "vendor, then sync again; if the district really has none now, ask the vendor's "
            "support to deactivate them"
        ),
        severity=Severity.WARNING,
    )


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.0f}%"


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseWindow:
    """Dates (inclusive) during which scheduled syncs of a district skip, e.g. the summer freeze."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a pause window must end on or after its start")

    def covers(self, day: date) -> bool:
        """True when `day` falls inside the window."""
        return self.start <= day <= self.end


def skip_reason(trigger: str, window: PauseWindow | None, today: date) -> str | None:
    """Why a sync should not run today, or None. Only scheduled syncs honour the pause window.

    A person who runs a sync by hand during the freeze means it, so manual runs go ahead.
    """
    if trigger != "scheduled" or window is None or not window.covers(today):
        return None
    return (
        f"scheduled syncs are paused from {window.start.isoformat()} to "
        f"{window.end.isoformat()}; run one by hand to sync anyway"
    )
