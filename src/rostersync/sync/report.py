"""What a run reports: its `SyncReport`, and the readable summary and digest of its plan."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.match import PEOPLE, MatchResult
from rostersync.domain.plan import SyncPlan
from rostersync.domain.records import EntityKind
from rostersync.sync.events import Mode, RunStatus
from rostersync.sync.sources import RosterSource

# sourcedIds listed per kind and outcome in a stored plan summary; the counts are always whole.
SUMMARY_CAP = 200
# Above this many planned changes, a plan stores only its fingerprint, not one digest per change.
ITEMS_CAP = 100_000
# Runs that wait for a person's decision.
PENDING = (RunStatus.PREVIEWED, RunStatus.HELD)


@dataclass(slots=True)
class SyncReport:
    """What a run did, for the CLI, the web pages and the summary email."""

    run_id: str
    district_id: str
    status: RunStatus
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)
    eligibility_changes: int = 0
    records_pulled: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None
    mode: Mode = Mode.APPLY
    # Why a run was held or skipped, in words for the person who decides.
    reason: str | None = None
    fingerprint: str | None = None
    # What the plan would do (or did), per kind: see `plan_summary`.
    plan: dict[str, Any] = field(default_factory=dict)
    # Per file, the rows known unchanged from their hash and never read (decision 0046).
    unchanged_rows: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[ValidationIssue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def change_count(self) -> int:
        return self.eligibility_changes + sum(
            c["created"] + c["updated"] + c["restored"] + c["deactivated"]
            for c in self.counts.values()
        )

    def as_counts_json(self) -> dict[str, object]:
        return {
            "entities": self.counts,
            "skipped": self.skipped,
            "eligibility_changes": self.eligibility_changes,
            "issues": {"errors": len(self.errors), "warnings": len(self.issues) - len(self.errors)},
            "records_pulled": self.records_pulled,
            "requests": self.requests,
            "retries": self.retries,
            "unchanged_rows": {f: n for f, n in self.unchanged_rows.items() if n},
        }


def raw_items(plan: SyncPlan, matched: MatchResult) -> Iterator[str]:
    """Each planned change as text, by sourcedId and content hash (never portal ids made for new
    records), so two plans of the same roster agree item for item. Streamed kinds added theirs
    to the digest as they were planned."""
    for kind, entity in plan.entities.items():
        if kind in plan.streamed:
            continue
        yield from (f"{kind}|create|{w.record.sourced_id}|{w.content_hash}" for w in entity.creates)
        yield from (f"{kind}|update|{w.record.sourced_id}|{w.content_hash}" for w in entity.updates)
        yield from (
            f"{kind}|restore|{w.record.sourced_id}|{w.content_hash}" for w in entity.restores
        )
        yield from (f"{kind}|deactivate|{s.sourced_id}" for s in entity.deactivations)
    for kind in PEOPLE:
        yield from (
            f"{kind}|match|{m.sourced_id}|{m.account_id}|{m.key}"
            for m in matched.matches.get(kind, [])
        )
    if plan.eligibility:
        students = {pid: sid for sid, pid in plan.entities[EntityKind.STUDENT].ids.items()}
        yield from (
            f"eligibility|{students.get(c.student_id, c.student_id)}|{c.after.status}|"
            f"{c.after.category}"
            for c in plan.eligibility
        )


def differences(
    before: list[str] | None, before_total: int, after: list[str] | None, after_total: int
) -> int:
    """How many planned changes differ; by count alone when a plan was too big to itemise."""
    if before is None or after is None:
        return max(1, abs(before_total - after_total))
    return len(set(before) ^ set(after))


def plan_summary(plan: SyncPlan, matched: MatchResult) -> dict[str, Any]:
    """A readable plan: per kind, the sourcedIds each outcome touches (capped), and totals."""
    kinds: dict[str, Any] = {}
    for kind, entity in plan.entities.items():
        streamed = plan.streamed.get(kind)
        if streamed is not None:
            kinds[kind.value] = {
                name: {"count": count, "sourced_ids": streamed.first_sourced_ids(name)}
                for name, count in streamed.counts().items()
                if name not in ("unchanged", "held")
            }
            kinds[kind.value]["matched"] = {"count": 0, "items": []}
            continue
        matches = matched.matches.get(kind, [])
        matched_ids = {m.account_id for m in matches}
        lists = {
            "created": [w.record.sourced_id for w in entity.creates],
            "updated": [w.record.sourced_id for w in entity.updates if w.id not in matched_ids],
            "restored": [w.record.sourced_id for w in entity.restores if w.id not in matched_ids],
            "deactivated": [s.sourced_id for s in entity.deactivations],
        }
        summary: dict[str, Any] = {
            name: {"count": len(sids), "sourced_ids": first_sorted(sids)}
            for name, sids in lists.items()
        }
        summary["matched"] = {
            "count": len(matches),
            "items": [
                {"sourced_id": m.sourced_id, "key": m.key.value, "account_id": m.account_id}
                for m in sorted(matches, key=lambda m: m.sourced_id)[:SUMMARY_CAP]
            ],
        }
        kinds[kind.value] = summary
    issues = sorted(
        plan.issues, key=lambda i: (i.severity != Severity.ERROR, i.entity, i.sourced_id)
    )
    return {
        "kinds": kinds,
        "eligibility_changes": len(plan.eligibility),
        "issues": {
            "count": len(plan.issues),
            "items": [
                {
                    "entity": i.entity,
                    "sourced_id": i.sourced_id,
                    "field": i.field,
                    "code": i.code,
                    "severity": i.severity.value,
                }
                for i in issues[:SUMMARY_CAP]
            ],
        },
    }


def first_sorted(values: Iterable[str]) -> list[str]:
    """The SUMMARY_CAP smallest values in order, without sorting millions to keep 200."""
    return heapq.nsmallest(SUMMARY_CAP, values)


def fill(report: SyncReport, plan: SyncPlan, source: RosterSource, matched: MatchResult) -> None:
    report.counts = plan.counts()
    for kind, counts in report.counts.items():
        counts["matched"] = matched.count(EntityKind(kind))
    report.skipped = dict(plan.skipped)
    report.issues = list(plan.issues)
    report.eligibility_changes = len(plan.eligibility)
    report.requests = source.stats.requests
    report.retries = source.stats.retries
    report.records_pulled = dict(source.stats.records)
