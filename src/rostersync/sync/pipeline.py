"""One sync run, end to end: lock → fetch → normalize → validate → match → plan → check → apply.

Fetching streams records straight into the collector: users become their portal accounts as they
arrive, enrollments go to a spool on disk and are planned and written a chunk at a time (see
`sync.enrollments` and docs/decisions/0014). Nothing is written until the whole pull has arrived
and been validated, and then the plan is applied in one transaction together with the run's
issues and audit rows. A failed pull leaves the portal exactly as it was.

One run per district at a time, under a lock that dies with its holder (`store.locks`). A run
in `preview` mode stores its plan and writes no roster row; a plan over the safeguards is `held`
the same way. Approving either re-pulls and applies only if the plan's fingerprint is unchanged.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy.engine import Engine

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.match import PEOPLE, MatchResult, match_accounts
from rostersync.domain.plan import PlanDigest, SyncPlan, plan_sync
from rostersync.domain.records import Enrollment, EntityKind, Record, StoredRecord
from rostersync.domain.rules import DistrictRules
from rostersync.domain.safeguards import Safeguards, empty_pull_warnings, held_reasons
from rostersync.domain.validate import SourceRoster, validate_roster
from rostersync.errors import (
    RosterSyncError,
    RunNotPending,
    SourceChanged,
    SourceError,
    SyncInProgress,
)
from rostersync.store import apply as store_apply
from rostersync.store import delta as store_delta
from rostersync.store import locks as store_locks
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow
from rostersync.store.db import SYNC_WRITER_WAIT_SECONDS, for_writing
from rostersync.sync import run_end, unprovided
from rostersync.sync.enrollments import (
    EnrollmentSpool,
    StoredEnrollments,
    plan_enrollments,
)
from rostersync.sync.enrollments import writes as enrollment_writes
from rostersync.sync.pausepoints import pause_point
from rostersync.sync.sources import Progress, RosterSource

log = structlog.get_logger(__name__)

# sourcedIds listed per kind and outcome in a stored plan summary; the counts are always whole.
SUMMARY_CAP = 200
# Above this many planned changes, a plan stores only its fingerprint, not one digest per change.
ITEMS_CAP = 100_000
# Runs that wait for a person's decision.
PENDING = ("previewed", "held")


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
    mode: str = "apply"
    # Why a run was held or skipped, in words for the person who decides.
    reason: str | None = None
    fingerprint: str | None = None
    # What the plan would do (or did), per kind: see `plan_summary`.
    plan: dict[str, Any] = field(default_factory=dict)

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
    """Stream every record of a source into a roster keyed by sourcedId (all in memory)."""
    roster = SourceRoster()
    for record in source.records(progress):
        roster.add(record)
    return roster


def collect_streamed(
    source: RosterSource,
    spool: EnrollmentSpool,
    rules: DistrictRules,
    progress: Progress | None = None,
) -> SourceRoster:
    """Like `collect`, but enrollments go to `spool` (see `sync.enrollments`), and each user
    is kept only as the portal account it becomes under `rules`."""
    roster = SourceRoster(rules=rules)
    add, spool_add = roster.add, spool.add
    # A big bundle's enrollments are read by a helper process meanwhile; the enrollment plan
    # reads them from the spool as the helper writes them (`sync.enrollment_reader`).
    aside = getattr(source, "read_enrollments_aside", None)
    if aside is not None:
        aside(spool, progress)
    for record in source.records(progress):
        if type(record) is Enrollment:
            spool_add(record)
        else:
            add(record)
    return roster


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """A person's go-ahead for a previewed or held run, checked against a fresh pull."""

    run_id: str
    fingerprint: str
    items: list[str] | None
    total: int
    actor: str


def execute_sync(
    engine: Engine,
    *,
    district_id: str,
    rules: DistrictRules,
    source: RosterSource,
    trigger: str,
    progress: Progress | None = None,
    mode: str = "apply",
    safeguards: Safeguards | None = None,
    approval: Approval | None = None,
    holder: str = "rostersync",
    delta: bool = False,
) -> SyncReport:
    """Run one sync of one district from `source` and record it as a run.

    Source failures end the run as `failed` with nothing written; the report says what failed.
    Programming errors propagate after the run is marked failed.

    Args:
        engine: The portal database.
        district_id: The district.
        rules: The district's questionnaire answers.
        source: Where the roster comes from.
        trigger: Why the run happens (manual, scheduled, revalidate, approval, …).
        progress: Called with (collection, records so far) while pulling.
        mode: "apply" writes the plan (unless a safeguard holds it); "preview" only stores it.
        safeguards: The district's thresholds (defaults when None). Not checked on approval.
        approval: Apply only if the plan still has this fingerprint, and mark that run approved.
        holder: Who takes the district's lock (host and process), shown to a refused caller.
        delta: The source sends only records changed since the watermark: no kind is complete
            (nothing is deactivated for being absent), references resolve against what the
            portal holds, and only the pulled records' issues may close. Every successful
            apply advances the district's delta watermark (see `store.delta`).

    Raises:
        SyncInProgress: A live run of the district holds the lock; no run is recorded.
        DatabaseUnavailable: The database went away mid-run; nothing was written.
        SourceChanged: With `approval`, the plan differs from the approved one; nothing written.
        RunNotPending: With `approval`, the run was decided by someone else meanwhile.
    """
    started = time.monotonic()
    lock = store_locks.DistrictLock(engine, district_id)
    run_id = run_end.on_database(lambda: lock.acquire(trigger=trigger, mode=mode))
    bound = log.bind(district_id=district_id, run_id=run_id)
    report = SyncReport(run_id=run_id, district_id=district_id, status="running", mode=mode)
    try:
        with _no_cyclic_gc(), EnrollmentSpool() as spool:
            _run(
                engine,
                lock,
                report,
                rules,
                source,
                run_end.pausing(progress),
                mode,
                safeguards or Safeguards(),
                approval,
                delta,
                spool,
            )
    except SourceError as exc:
        _fail(engine, report, exc, source, started)
        bound.warning("sync.failed", error_type=type(exc).__name__)
        return report
    except (SourceChanged, RunNotPending, SyncInProgress) as exc:
        _fail(engine, report, exc, source, started)
        bound.warning("sync.refused", error_type=type(exc).__name__)
        raise
    except store_locks.UNAVAILABLE as exc:
        # The database went away mid-run: the one write transaction rolled back.
        _fail(engine, report, run_end.unavailable(exc), source, started)
        bound.error("sync.database_lost", error_type=type(exc).__name__)
        raise run_end.unavailable(exc) from exc
    except BaseException as exc:
        _fail(engine, report, exc, source, started)
        bound.error("sync.crashed", error_type=type(exc).__name__)
        raise
    finally:
        lock.release()
    report.seconds = time.monotonic() - started
    bound.info(
        "sync.finished",
        status=report.status,
        mode=mode,
        seconds=round(report.seconds, 3),
        changes=report.change_count,
        errors=len(report.errors),
        requests=report.requests,
        retries=report.retries,
    )
    return report


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a run builds its millions of records.

    A run allocates a few objects per record and frees almost none of them until it ends, which
    is the worst case for the generational collector: every full collection walks the whole,
    growing heap, for nothing (records hold no reference cycles). At 100,000 students that was
    over half of a first sync's time. Reference counting still frees everything as usual, and
    the collector is restored (if it was on) when the run ends, even by an exception.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(
    engine: Engine,
    lock: store_locks.DistrictLock,
    report: SyncReport,
    rules: DistrictRules,
    source: RosterSource,
    progress: Progress | None,
    mode: str,
    safeguards: Safeguards,
    approval: Approval | None,
    delta: bool,
    spool: EnrollmentSpool,
) -> None:
    district_id, run_id = report.district_id, report.run_id
    roster = collect_streamed(source, spool, rules, progress)
    pause_point("validating")
    report.records_pulled = dict(source.stats.records)
    # What the end of the run needs from the pull is taken now, so the pull's dicts (one entry
    # per record) can go as soon as validation has read them.
    newest = store_delta.newest_of(
        {r.date_last_modified for r in _pulled(roster)} | roster.people_stamps
    )
    scope = {r.sourced_id for r in _pulled(roster)} | roster.people_seen if delta else None
    known = None
    if delta:
        # A delta's records point at classes, schools and people it did not resend.
        with engine.connect() as conn:
            known = store_delta.active_sourced_ids(conn, district_id)
    validated = validate_roster(roster, rules, known=known, unprovided=unprovided.kinds_of(source))
    del roster, known
    present = {kind for kind in EntityKind if validated.valid[kind] or validated.held[kind]}
    context = validated.enrollments
    assert context is not None  # validate_roster always sets it
    # Asked once, before the write transaction: the kinds whose collection arrived whole.
    complete = source.complete_kinds()
    pause_point("planning")
    # On SQLite it queues for the one writer, which another district's sync may hold for long.
    with for_writing(engine, wait_seconds=SYNC_WRITER_WAIT_SECONDS).begin() as conn:
        now = datetime.now(UTC)
        lock.confirm(conn, now=now)
        # Enrollments are planned while streaming (below), without loading their index.
        stored: dict[EntityKind, Mapping[str, StoredRecord]] = {
            kind: store_roster.load_index(conn, district_id, kind)
            for kind in EntityKind
            if kind is not EntityKind.ENROLLMENT
        }
        accounts = {kind: store_workflow.load_accounts(conn, district_id, kind) for kind in PEOPLE}
        matched = match_accounts(validated, stored, accounts)
        del validated, stored
        plan = plan_sync(
            matched.roster,
            matched.stored,
            # Read a chunk of students at a time, never the whole district's.
            partial(store_roster.lookup_eligibility, conn, district_id),
            rules,
            # A delta is never a snapshot: absence from it means nothing.
            complete_kinds=set() if delta else complete & present,
        )
        digest = PlanDigest(ITEMS_CAP)
        enrollments = plan_enrollments(
            spool,
            context.without_people(matched.blocked, matched.blocked_names),
            StoredEnrollments(
                counts=store_roster.count_stored(conn, district_id, EntityKind.ENROLLMENT),
                lookup=partial(store_roster.lookup_index, conn, district_id, EntityKind.ENROLLMENT),
                active=partial(
                    store_roster.stream_active, conn, district_id, EntityKind.ENROLLMENT
                ),
                active_hashes=partial(
                    store_roster.stream_active_hashes, conn, district_id, EntityKind.ENROLLMENT
                ),
            ),
            complete=not delta and EntityKind.ENROLLMENT in complete,
            delta=delta,
            digest=digest,
            cap=SUMMARY_CAP,
        )
        plan.streamed[EntityKind.ENROLLMENT] = enrollments.plan
        plan.issues.extend(enrollments.issues)
        if not delta:  # a delta that brings nothing new is the usual case, not a warning
            pulled = present | ({EntityKind.ENROLLMENT} if enrollments.present else set())
            plan.issues.extend(empty_pull_warnings(plan, matched, pulled))
        for key, count in enrollments.skipped.items():
            plan.skipped[key] = plan.skipped.get(key, 0) + count
        if scope is not None and enrollments.pulled is not None:
            scope |= enrollments.pulled
        newest = store_delta.newest_of({newest, *enrollments.stamps} - {None})
        for change in _raw_items(plan, matched):
            digest.add(change)
        fingerprint = digest.fingerprint()
        items = digest.items()
        _fill(report, plan, source, matched)
        report.fingerprint = fingerprint
        report.plan = plan_summary(plan, matched)
        report.plan["total_changes"] = digest.count
        pause_point("writing")

        if approval is not None and fingerprint != approval.fingerprint:
            n = differences(approval.items, approval.total, items, digest.count)
            raise SourceChanged(
                f"the roster changed since this preview ({n} differences); preview again",
                differences=n,
            )
        reasons = (
            []
            if approval is not None or mode == "preview"
            else held_reasons(plan, matched, safeguards)
        )
        if mode == "preview" or reasons:
            # Nothing is written to the roster: the plan waits for a person's decision.
            report.status = "previewed" if mode == "preview" else "held"
            report.reason = "; ".join(reasons) or None
            store_workflow.save_plan(
                conn,
                run_id=run_id,
                district_id=district_id,
                fingerprint=fingerprint,
                summary=report.plan,
                items=items,
                held_reason=report.reason,
            )
            if reasons:
                store_workflow.audit(
                    conn,
                    district_id=district_id,
                    run_id=run_id,
                    actor=f"sync run {run_id}",
                    action="hold",
                    entity_type="sync_run",
                    entity_id=run_id,
                    changes={"reason": report.reason},
                    now=now,
                )
            store_runs.finish_run(
                conn,
                run_id,
                status=report.status,
                counts=report.as_counts_json(),
                error=None,
                now=now,
            )
            return

        actor = f"sync run {run_id}"
        all_matches = [m for kind in PEOPLE for m in matched.matches.get(kind, [])]
        for kind in PEOPLE:
            store_workflow.link_matches(
                conn, district_id=district_id, kind=kind, matches=matched.matches.get(kind, [])
            )
        store_apply.apply_plan(
            conn,
            district_id=district_id,
            run_id=run_id,
            plan=plan,
            actor=actor,
            now=now,
            streamed={EntityKind.ENROLLMENT: enrollment_writes(spool, enrollments)},
        )
        store_workflow.audit_matches(
            conn,
            district_id=district_id,
            run_id=run_id,
            actor=actor,
            matches=all_matches,
            now=now,
        )
        store_workflow.reconcile_issues(
            conn,
            district_id=district_id,
            run_id=run_id,
            issues=plan.issues,
            now=now,
            scope=scope,
        )
        store_workflow.save_plan(
            conn,
            run_id=run_id,
            district_id=district_id,
            fingerprint=fingerprint,
            summary=report.plan,
            items=None,
            approves_run_id=approval.run_id if approval else None,
            decided_by=approval.actor if approval else None,
            decided_at=now if approval else None,
        )
        if approval is not None:
            if not store_workflow.decide_run(
                conn,
                run_id=approval.run_id,
                pending=PENDING,
                status="approved",
                actor=approval.actor,
                now=now,
            ):
                raise RunNotPending(
                    f"run {approval.run_id} was decided while it was being applied; nothing "
                    "was written"
                )
            store_workflow.audit(
                conn,
                district_id=district_id,
                run_id=approval.run_id,
                actor=approval.actor,
                action="approve",
                entity_type="sync_run",
                entity_id=approval.run_id,
                changes={"applied_by_run": run_id},
                now=now,
            )
        # In the apply's transaction: a watermark never runs ahead of what was written.
        store_delta.advance_watermark(
            conn,
            district_id=district_id,
            seen=newest,
            full=not delta,
            now=now,
        )
        report.status = "succeeded"
        store_runs.finish_run(
            conn, run_id, status="succeeded", counts=report.as_counts_json(), error=None, now=now
        )


def _pulled(roster: SourceRoster) -> Iterator[Record]:
    return itertools.chain[Record](
        roster.orgs.values(),
        roster.sessions.values(),
        roster.courses.values(),
        roster.classes.values(),
        roster.people.values(),
        roster.accounts,
        roster.enrollments.values(),
    )


def record_skip(engine: Engine, *, district_id: str, trigger: str, reason: str) -> SyncReport:
    """Record a run that did not pull at all (a pause window), and report it as skipped."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        run_id = store_runs.create_run(
            conn, district_id=district_id, trigger=trigger, mode="apply", now=now
        )
        report = SyncReport(run_id=run_id, district_id=district_id, status="skipped", reason=reason)
        store_runs.finish_run(
            conn, run_id, status="skipped", counts=report.as_counts_json(), error=reason, now=now
        )
    log.info("sync.skipped", district_id=district_id, run_id=run_id, trigger=trigger)
    return report


def _raw_items(plan: SyncPlan, matched: MatchResult) -> Iterator[str]:
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
            name: {"count": len(sids), "sourced_ids": _first_sorted(sids)}
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


def _first_sorted(values: Iterable[str]) -> list[str]:
    """The SUMMARY_CAP smallest values in order, without sorting millions to keep 200."""
    return heapq.nsmallest(SUMMARY_CAP, values)


def _fill(report: SyncReport, plan: SyncPlan, source: RosterSource, matched: MatchResult) -> None:
    report.counts = plan.counts()
    for kind, counts in report.counts.items():
        counts["matched"] = matched.count(EntityKind(kind))
    report.skipped = dict(plan.skipped)
    report.issues = list(plan.issues)
    report.eligibility_changes = len(plan.eligibility)
    report.requests = source.stats.requests
    report.retries = source.stats.retries
    report.records_pulled = dict(source.stats.records)


def _fail(
    engine: Engine, report: SyncReport, exc: BaseException, source: RosterSource, started: float
) -> None:
    report.status = "failed"
    report.error = str(exc) if isinstance(exc, RosterSyncError) else f"internal error: {exc!r}"
    report.requests = source.stats.requests
    report.retries = source.stats.retries
    report.records_pulled = dict(source.stats.records)
    report.seconds = time.monotonic() - started
    run_end.record_failure(
        engine, report.run_id, counts=report.as_counts_json(), error=report.error
    )
