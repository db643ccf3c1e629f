"""Safeguards: when a sync's plan is too big to apply without a person looking at it first.

A source that suddenly drops a third of a district's students is far more often a broken export
than a real exodus. Per district and kind of record, a plan whose deactivations or updates exceed
a threshold is held: nothing is written until someone approves or discards it
(docs/decisions/0005-safeguard-thresholds.md). A pause window (the summer freeze) makes scheduled
syncs skip altogether.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

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
