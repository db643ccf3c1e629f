"""One sync run, end to end: fetch → normalize → validate → plan → apply → report.

Fetching streams records straight into the collector; nothing is written until the whole pull has
arrived and been validated, and then the plan is applied in one transaction together with the
run's issues and audit rows. A failed pull leaves the portal exactly as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Engine

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.plan import SyncPlan, plan_sync
from rostersync.domain.records import EntityKind
from rostersync.domain.rules import DistrictRules
from rostersync.domain.validate import SourceRoster, validate_roster
from rostersync.errors import RosterSyncError, SourceError
from rostersync.store import apply as store_apply
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.sync.sources import Progress, RosterSource

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class SyncReport:
    """What a run did, for the CLI, the web pages and the summary email."""

    run_id: str
    district_id: str
    status: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)
    eligibility_changes: int = 0
    records_pulled: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None

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
        }


def collect(source: RosterSource, progress: Progress | None = None) -> SourceRoster:
    """Stream every record of a source into a roster keyed by sourcedId."""
    roster = SourceRoster()
    for record in source.records(progress):
        roster.add(record)
    return roster


def execute_sync(
    engine: Engine,
    *,
    district_id: str,
    rules: DistrictRules,
    source: RosterSource,
    trigger: str,
    progress: Progress | None = None,
) -> SyncReport:
    """Run one sync of one district from `source` and record it as a run.

    Source failures end the run as `failed` with nothing written; the report says what failed.
    Programming errors propagate after the run is marked failed.
    """
    started = time.monotonic()
    with engine.begin() as conn:
        run_id = store_runs.create_run(conn, district_id=district_id, trigger=trigger, mode="apply")
    bound = log.bind(district_id=district_id, run_id=run_id)
    report = SyncReport(run_id=run_id, district_id=district_id, status="running")
    try:
        roster = collect(source, progress)
        report.records_pulled = dict(source.stats.records)
        validated = validate_roster(roster, rules)
        present = {kind for kind in EntityKind if validated.valid[kind] or validated.held[kind]}
        with engine.begin() as conn:
            stored = {kind: store_roster.load_index(conn, district_id, kind) for kind in EntityKind}
            eligibility = store_roster.load_eligibility(conn, district_id)
            plan = plan_sync(
                validated,
                stored,
                eligibility,
                rules,
                complete_kinds=source.complete_kinds() & present,
            )
            now = datetime.now(UTC)
            store_apply.apply_plan(
                conn,
                district_id=district_id,
                run_id=run_id,
                plan=plan,
                actor=f"sync run {run_id}",
                now=now,
            )
            store_runs.save_issues(conn, run_id=run_id, district_id=district_id, issues=plan.issues)
            _fill(report, plan, source)
            report.status = "succeeded"
            report.seconds = time.monotonic() - started
            store_runs.finish_run(
                conn,
                run_id,
                status="succeeded",
                counts=report.as_counts_json(),
                error=None,
                now=now,
            )
    except SourceError as exc:
        _fail(engine, report, exc, source, started)
        bound.warning("sync.failed", error_type=type(exc).__name__)
        return report
    except BaseException as exc:
        _fail(engine, report, exc, source, started)
        bound.error("sync.crashed", error_type=type(exc).__name__)
        raise
    bound.info(
        "sync.finished",
        status=report.status,
        seconds=round(report.seconds, 3),
        changes=report.change_count,
        errors=len(report.errors),
        requests=report.requests,
        retries=report.retries,
    )
    return report


def _fill(report: SyncReport, plan: SyncPlan, source: RosterSource) -> None:
    report.counts = plan.counts()
    report.skipped = dict(plan.skipped)
    report.issues = list(plan.issues)
    report.eligibility_changes = len(plan.eligibility)
    report.requests = source.stats.requests
    report.retries = source.stats.retries


def _fail(
    engine: Engine, report: SyncReport, exc: BaseException, source: RosterSource, started: float
) -> None:
    report.status = "failed"
    report.error = str(exc) if isinstance(exc, RosterSyncError) else f"internal error: {exc!r}"
    report.requests = source.stats.requests
    report.retries = source.stats.retries
    report.records_pulled = dict(source.stats.records)
    report.seconds = time.monotonic() - started
    with engine.begin() as conn:
        store_runs.finish_run(
            conn,
            report.run_id,
            status="failed",
            counts=report.as_counts_json(),
            error=report.error,
            now=datetime.now(UTC),
        )
