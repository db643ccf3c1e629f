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
import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import structlog
from sqlalchemy.engine import Connection, Engine

from rostersync.domain.match import PEOPLE, MatchResult, match_accounts
from rostersync.domain.plan import PlanDigest, SyncPlan, plan_sync
from rostersync.domain.records import Enrollment, EntityKind, Record, StoredRecord
from rostersync.domain.rules import DistrictRules
from rostersync.domain.safeguards import Safeguards, empty_pull_warnings, held_reasons
from rostersync.domain.unchanged_rows import KnownRows
from rostersync.domain.validate import SourceRoster, ValidatedRoster, validate_roster
from rostersync.errors import RunNotPending, SourceChanged, SourceError, SyncInProgress
from rostersync.store import apply as store_apply
from rostersync.store import delta as store_delta
from rostersync.store import locks as store_locks
from rostersync.store import plan_changes as store_plan_changes
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow
from rostersync.store.db import SYNC_WRITER_WAIT_SECONDS, for_writing
from rostersync.sync import approvals, read_again, run_end, unprovided
from rostersync.sync.approvals import Approval
from rostersync.sync.enrollments import (
    EnrollmentPlan,
    EnrollmentSpool,
    StoredEnrollments,
    plan_enrollments,
)
from rostersync.sync.enrollments import writes as enrollment_writes
from rostersync.sync.events import (
    CollectionPulled,
    Mode,
    NewestChange,
    Observer,
    Phase,
    PhaseChanged,
    RunStarted,
    RunStatus,
    fan_out,
)
from rostersync.sync.pausepoints import pause_point
from rostersync.sync.report import (
    ITEMS_CAP,
    PENDING,
    SUMMARY_CAP,
    SyncReport,
    fill,
    plan_summary,
    raw_items,
)
from rostersync.sync.run_end import record_skip
from rostersync.sync.sources import Progress, RosterSource

__all__ = [
    "PENDING",
    "Approval",
    "SyncReport",
    "collect",
    "collect_streamed",
    "execute_sync",
    "record_skip",
]

log = structlog.get_logger(__name__)


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


def execute_sync(
    engine: Engine,
    *,
    district_id: str,
    rules: DistrictRules,
    source: RosterSource,
    trigger: str,
    observers: Sequence[Observer] = (),
    mode: Mode = Mode.APPLY,
    safeguards: Safeguards | None = None,
    approval: Approval | None = None,
    holder: str = "rostersync",
    delta: bool = False,
    skip_unchanged: bool = True,
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
        observers: Hear the run's events (`sync.events`): phases, counts, its end.
        mode: "apply" writes the plan (unless a safeguard holds it); "preview" only stores it.
        safeguards: The district's thresholds (defaults when None). Not checked on approval.
        approval: Apply only if the plan still has this fingerprint, and mark that run approved.
        holder: Who takes the district's lock (host and process), shown to a refused caller.
        delta: The source sends only records changed since the watermark: no kind is complete
            (nothing is deactivated for being absent), references resolve against what the
            portal holds, and only the pulled records' issues may close. Every successful
            apply advances the district's delta watermark (see `store.delta`).
        skip_unchanged: Know a full pull's rows unchanged from their hashes where the source
            can (`domain.unchanged_rows`); False reads every row into its record.

    Raises:
        SyncInProgress: A live run of the district holds the lock; no run is recorded.
        DatabaseUnavailable: The database went away mid-run; nothing was written.
        SourceChanged: With `approval`, the plan differs from the approved one; nothing written.
        RunNotPending: With `approval`, the run was decided by someone else meanwhile.
    """
    started = time.monotonic()
    mode = Mode(mode)
    tell = fan_out(observers)
    lock = store_locks.DistrictLock(engine, district_id)
    run_id = run_end.on_database(lambda: lock.acquire(trigger=trigger, mode=mode))
    bound = log.bind(district_id=district_id, run_id=run_id)
    report = SyncReport(run_id=run_id, district_id=district_id, status=RunStatus.RUNNING, mode=mode)
    tell(RunStarted(run_id, district_id, mode, trigger))
    end = run_end.Ending(engine, report, source, started, tell)
    try:
        skipping = skip_unchanged and not delta
        while True:
            with _no_cyclic_gc(), EnrollmentSpool() as spool:
                state = RunState(
                    engine=engine,
                    lock=lock,
                    report=report,
                    rules=rules,
                    source=source,
                    mode=mode,
                    safeguards=safeguards or Safeguards(),
                    approval=approval,
                    delta=delta,
                    spool=spool,
                    tell=tell,
                    skip_unchanged=skipping,
                )
                again = _run(state)
            if again is None:
                break
            # Nothing was written: the pull is read again, every row into its record.
            bound.info("sync.read_again", reason=again)
            skipping = False
            read_again.rewind(source)
    except SourceError as exc:
        end.failed(exc)
        bound.warning("sync.failed", error_type=type(exc).__name__)
        return report
    except (SourceChanged, RunNotPending, SyncInProgress) as exc:
        end.failed(exc)
        bound.warning("sync.refused", error_type=type(exc).__name__)
        raise
    except store_locks.UNAVAILABLE as exc:
        # The database went away mid-run: the one write transaction rolled back.
        end.failed(run_end.unavailable(exc))
        bound.error("sync.database_lost", error_type=type(exc).__name__)
        raise run_end.unavailable(exc) from exc
    except BaseException as exc:
        end.failed(exc)
        bound.error("sync.crashed", error_type=type(exc).__name__)
        raise
    finally:
        read_again.release(source)
        lock.release()
        end.finished()
    bound.info(
        "sync.finished",
        status=report.status,
        mode=mode,
        seconds=round(report.seconds, 3),
        changes=report.change_count,
        errors=len(report.errors),
        requests=report.requests,
        retries=report.retries,
        # Per file, the rows known unchanged from their hash and never read (decision 0046).
        unchanged_rows=report.unchanged_rows,
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


@dataclass(slots=True, kw_only=True)
class RunState:
    """One run as its steps go: what it was asked to do, and what each step found for the next.

    A step that reads a big intermediate (the validated roster) takes it out of the state, so it
    is freed as soon as that step is done with it.
    """

    engine: Engine
    lock: store_locks.DistrictLock
    report: SyncReport
    rules: DistrictRules
    source: RosterSource
    mode: Mode
    safeguards: Safeguards
    approval: Approval | None
    delta: bool
    spool: EnrollmentSpool
    tell: Observer
    # Whether rows may be known unchanged, and (`_pull`) the row hashes they are known by.
    skip_unchanged: bool = False
    known: KnownRows | None = None
    # Found by `_validate`, for `_plan`.
    validated: ValidatedRoster | None = None
    present: set[EntityKind] = field(default_factory=set)
    complete: set[EntityKind] = field(default_factory=set)
    # Both grow while enrollments are planned: the newest stamp pulled, and (for a delta)
    # the sourcedIds whose issues this run may close.
    newest: str | None = None
    scope: set[str] | None = None

    @property
    def run_id(self) -> str:
        return self.report.run_id

    @property
    def district_id(self) -> str:
        return self.report.district_id


@dataclass(slots=True, kw_only=True)
class Planned:
    """What `_plan` made: the plan, the accounts it matched, and its fingerprint."""

    plan: SyncPlan
    matched: MatchResult
    enrollments: EnrollmentPlan
    fingerprint: str
    items: list[str] | None
    total: int


def _run(state: RunState) -> str | None:
    """The run's steps: pull, validate, plan (in the write transaction), then hold or apply;
    or, before anything is written, why the pull must be read again (`sync.read_again`)."""
    again = _validate(state, _pull(state))
    if again is not None:
        return again
    _enter(state, Phase.PLANNING)
    # On SQLite it queues for the one writer, which another district's sync may hold for long.
    with for_writing(state.engine, wait_seconds=SYNC_WRITER_WAIT_SECONDS).begin() as conn:
        now = datetime.now(UTC)
        state.lock.confirm(conn, now=now)
        planned = _plan(state, conn)
        _report_plan(state, planned)
        _enter(state, Phase.WRITING)
        approvals.check(state.approval, planned.fingerprint, planned.items, planned.total)
        reasons = (
            []
            if state.approval is not None or state.mode is Mode.PREVIEW
            else held_reasons(planned.plan, planned.matched, state.safeguards)
        )
        if state.mode is Mode.PREVIEW or reasons:
            _keep_for_decision(state, conn, planned, reasons, now)
        else:
            _apply(state, conn, planned, now)
    return None


def _enter(state: RunState, phase: Phase) -> None:
    """Tell the observers the run entered `phase`, then pass its pause point."""
    state.tell(PhaseChanged(state.run_id, phase))
    pause_point(phase.value)


def _pull(state: RunState) -> SourceRoster:
    """Stream the whole pull in: people as accounts, enrollments to the spool."""
    state.tell(PhaseChanged(state.run_id, Phase.PULLING))
    run_id, tell = state.run_id, state.tell
    paused = False

    def pulled(collection: str, records: int) -> None:
        nonlocal paused
        tell(CollectionPulled(run_id, collection, records))
        if not paused:  # the `pulling` pause point, once records arrive
            paused = True
            pause_point(Phase.PULLING.value)

    if not state.delta:
        state.known = read_again.offer(
            state.engine, state.district_id, state.rules, state.source, skip=state.skip_unchanged
        )
    return collect_streamed(state.source, state.spool, state.rules, pulled)


def _validate(state: RunState, roster: SourceRoster) -> str | None:
    """Check the pull against the district's answers; the roster is freed once read. Returns
    why the pull must be read again, when rows known unchanged cannot stand (`read_again`)."""
    _enter(state, Phase.VALIDATING)
    state.report.records_pulled = dict(state.source.stats.records)
    state.report.unchanged_rows = dict(state.known.unchanged) if state.known is not None else {}
    # What the end of the run needs from the pull is taken now, so the pull's dicts (one entry
    # per record) can go as soon as validation has read them.
    state.newest = store_delta.newest_of(
        {r.date_last_modified for r in _pulled(roster)}
        | roster.people_stamps
        | roster.unchanged_stamps
    )
    skipped = state.known is not None and state.known.skipped_any
    if skipped and (again := read_again.check_people(state.engine, state.district_id, roster)):
        return again
    if state.delta:
        state.scope = {r.sourced_id for r in _pulled(roster)} | roster.people_seen
    known = None
    if state.delta:
        # A delta's records point at classes, schools and people it did not resend.
        with state.engine.connect() as conn:
            known = store_delta.active_sourced_ids(conn, state.district_id)
    unprovided_kinds = unprovided.kinds_of(state.source)
    validated = validate_roster(
        roster,
        state.rules,
        known=known,
        unprovided=unprovided_kinds,
        portal_names=read_again.portal_names(state.engine, state.district_id, roster)
        if skipped
        else None,
    )
    del roster, known
    state.present = {
        k
        for k in EntityKind
        if validated.valid[k] or validated.held[k] or validated.unchanged.get(k)
    }
    if skipped and (
        again := read_again.check_references(state.engine, state.district_id, validated)
    ):
        return again
    state.validated = validated
    # Asked once, before the write transaction: the kinds whose collection arrived whole.
    state.complete = state.source.complete_kinds()
    return None


def _plan(state: RunState, conn: Connection) -> Planned:
    """Match accounts and plan every change against what the portal holds."""
    district_id, delta = state.district_id, state.delta
    validated, state.validated = state.validated, None
    assert validated is not None and validated.enrollments is not None  # set by `_validate`
    context = validated.enrollments
    # Enrollments are planned while streaming (below), without loading their index.
    kinds = [kind for kind in EntityKind if kind is not EntityKind.ENROLLMENT]
    stored: dict[EntityKind, Mapping[str, StoredRecord]] = dict(
        store_roster.load_indexes(conn, district_id, kinds)
    )
    accounts = {kind: store_workflow.load_accounts(conn, district_id, kind) for kind in PEOPLE}
    matched = match_accounts(validated, stored, accounts)
    del validated, stored
    plan = plan_sync(
        matched.roster,
        matched.stored,
        # Read a chunk of students at a time, never the whole district's.
        partial(store_roster.lookup_eligibility, conn, district_id),
        state.rules,
        # A delta is never a snapshot: absence from it means nothing.
        complete_kinds=set() if delta else state.complete & state.present,
    )
    digest = PlanDigest(ITEMS_CAP)
    kind = EntityKind.ENROLLMENT
    enrollments = plan_enrollments(
        state.spool,
        context.without_people(matched.blocked, matched.blocked_names),
        StoredEnrollments(
            counts=store_roster.count_stored(conn, district_id, kind),
            lookup=partial(store_roster.lookup_index, conn, district_id, kind),
            active=partial(store_roster.stream_active, conn, district_id, kind),
            active_hashes=partial(store_roster.stream_active_hashes, conn, district_id, kind),
        ),
        complete=not delta and kind in state.complete,
        delta=delta,
        digest=digest,
        cap=SUMMARY_CAP,
    )
    plan.streamed[kind] = enrollments.plan
    plan.issues.extend(enrollments.issues)
    if not delta:  # a delta that brings nothing new is the usual case, not a warning
        pulled = state.present | ({kind} if enrollments.present else set())
        plan.issues.extend(empty_pull_warnings(plan, matched, pulled))
    for key, count in enrollments.skipped.items():
        plan.skipped[key] = plan.skipped.get(key, 0) + count
    if state.scope is not None and enrollments.pulled is not None:
        state.scope |= enrollments.pulled
    state.newest = store_delta.newest_of({state.newest, *enrollments.stamps} - {None})
    for change in raw_items(plan, matched):
        digest.add(change)
    return Planned(
        plan=plan,
        matched=matched,
        enrollments=enrollments,
        fingerprint=digest.fingerprint(),
        items=digest.items(),
        total=digest.count,
    )


def _report_plan(state: RunState, planned: Planned) -> None:
    """Put the plan's counts on the report, and tell how fresh the pull was."""
    report = state.report
    fill(report, planned.plan, state.source, planned.matched)
    report.fingerprint = planned.fingerprint
    report.plan = plan_summary(planned.plan, planned.matched)
    report.plan["total_changes"] = planned.total
    state.tell(NewestChange(state.run_id, store_delta.parse_modified(state.newest)))


def _keep_for_decision(
    state: RunState, conn: Connection, planned: Planned, reasons: list[str], now: datetime
) -> None:
    """Store a previewed or held plan for a person's decision; no roster row is written."""
    report, run_id, district_id = state.report, state.run_id, state.district_id
    report.status = RunStatus.PREVIEWED if state.mode is Mode.PREVIEW else RunStatus.HELD
    report.reason = "; ".join(reasons) or None
    store_workflow.save_plan(
        conn,
        run_id=run_id,
        district_id=district_id,
        fingerprint=planned.fingerprint,
        summary=report.plan,
        items=planned.items,
        held_reason=report.reason,
    )
    if reasons:  # every change, for the review (the summary keeps 200 of each)
        writes = {EntityKind.ENROLLMENT: enrollment_writes(state.spool, planned.enrollments)}
        changes = store_plan_changes.changes_of(planned.plan, planned.matched, writes)
        store_plan_changes.record(conn, run_id, changes)
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
        conn, run_id, status=report.status, counts=report.as_counts_json(), error=None, now=now
    )


def _apply(state: RunState, conn: Connection, planned: Planned, now: datetime) -> None:
    """Write the plan, its matches, issues and audit rows, and advance the delta watermark."""
    run_id, district_id, approval = state.run_id, state.district_id, state.approval
    plan, matched = planned.plan, planned.matched
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
        streamed={EntityKind.ENROLLMENT: enrollment_writes(state.spool, planned.enrollments)},
        row_hashes=read_again.row_hashes(state.known, plan.issues, matched.roster.held),
    )
    store_workflow.audit_matches(
        conn, district_id=district_id, run_id=run_id, actor=actor, matches=all_matches, now=now
    )
    store_workflow.reconcile_issues(
        conn, district_id=district_id, run_id=run_id, issues=plan.issues, now=now, scope=state.scope
    )
    store_workflow.save_plan(
        conn,
        run_id=run_id,
        district_id=district_id,
        fingerprint=planned.fingerprint,
        summary=state.report.plan,
        items=None,
        approves_run_id=approval.run_id if approval else None,
        decided_by=approval.actor if approval else None,
        decided_at=now if approval else None,
    )
    if approval is not None:
        approvals.approve(conn, district_id, run_id, approval, now)
    # In the apply's transaction: a watermark never runs ahead of what was written.
    store_delta.advance_watermark(
        conn, district_id=district_id, seen=state.newest, full=not state.delta, now=now
    )
    state.report.status = RunStatus.SUCCEEDED
    store_runs.finish_run(
        conn,
        run_id,
        status=RunStatus.SUCCEEDED,
        counts=state.report.as_counts_json(),
        error=None,
        now=now,
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
