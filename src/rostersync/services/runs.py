"""Runs: syncs, previews, approvals and discards, revalidation, deltas, background runs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import structlog

from rostersync.domain.issue_groups import IssueFilters
from rostersync.domain.rules import DistrictRules
from rostersync.domain.safeguards import skip_reason
from rostersync.errors import ConfigError, RunNotPending, SyncInProgress
from rostersync.notify.notifier import Notifier
from rostersync.notify.senders import Sender
from rostersync.providers import PROVIDERS, push
from rostersync.services.context import ServiceContext, this_process, today_in
from rostersync.services.pushed_sources import newest_pushed_source
from rostersync.store import delta as store_delta
from rostersync.store import districts as store_districts
from rostersync.store import issue_lists as store_issue_lists
from rostersync.store import plan_changes as store_plan_changes
from rostersync.store import plan_subjects as store_plan_subjects
from rostersync.store import progress as store_progress
from rostersync.store import push as store_push
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow
from rostersync.store.keyset import Seek, SeekPage
from rostersync.sync import events
from rostersync.sync.change_feed import ChangeFeedSource, keep_position
from rostersync.sync.delta import execute_delta
from rostersync.sync.metered import count_runs
from rostersync.sync.pipeline import PENDING, Approval, SyncReport, execute_sync, record_skip
from rostersync.sync.recorder import ProgressRecorder
from rostersync.sync.sources import RosterSource

_log = structlog.get_logger(__name__)

# A run started from a page runs on a small bounded pool in the web process, so the page returns
# at once and the person watches the run's recorded progress (store/progress.py). Two at a time:
# each pull is mostly waiting on ClassLink, and the web process serves pages.
BACKGROUND_RUNS = 2
# The audit action of a person starting a run from the portal or the API (the run's "start").
STARTED = "start"


class Runs:
    """Every way a district's roster is pulled and applied, and what each run left."""

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._engine = context.engine
        self._pool = ThreadPoolExecutor(BACKGROUND_RUNS, "background run")
        self._slots = threading.BoundedSemaphore(BACKGROUND_RUNS)

    def close(self) -> None:
        """Stop taking background runs; those running finish."""
        self._pool.shutdown(wait=False)

    # Syncing -----------------------------------------------------------------------------------
    def sync(
        self,
        slug_or_id: str,
        *,
        trigger: str = "manual",
        observers: Sequence[events.Observer] = (),
        source: RosterSource | None = None,
    ) -> SyncReport:
        """Pull the district's roster, validate it, and provision what passes.

        Args:
            slug_or_id: The district.
            trigger: Why the run happened (manual, scheduled, demo, …), kept on the run.
            observers: Hear the run's events (`sync.events`): phases, counts, its end.
            source: Pull from this source instead of the district's configured one.
        """
        district, rules, source = self._resolve(slug_or_id, source)
        return self._pipeline(district, rules, source, trigger=trigger, observers=observers)

    def preview(
        self,
        slug_or_id: str,
        *,
        observers: Sequence[events.Observer] = (),
        source: RosterSource | None = None,
    ) -> SyncReport:
        """Compute the whole plan of a sync without writing any roster row, and store it.

        The run ends `previewed`, with its counts, issues, plan summary and fingerprint;
        `approve` applies it if the roster has not changed since.

        Raises:
            SyncInProgress: Another sync of the district is running.
        """
        district, rules, source = self._resolve(slug_or_id, source)
        return self._pipeline(
            district, rules, source, trigger="manual", observers=observers, mode="preview"
        )

    def approve(
        self,
        run_id: str,
        actor: str,
        *,
        source: RosterSource | None = None,
        on_run: Callable[[str], None] | None = None,
    ) -> SyncReport:
        """Apply a previewed or held run: re-pull, re-plan, and apply only the same plan.

        Args:
            run_id: The previewed or held run.
            actor: Who approves (kept in the audit log).
            source: Pull from this source instead of the district's configured one.
            on_run: Hears the applying run's id once it holds the district's lock.

        Returns:
            The report of the new run that applied the plan; it references the approved run.

        Raises:
            NotFoundError: No such run.
            RunNotPending: The run is not waiting for a decision.
            SourceChanged: The roster changed since the preview; nothing was written.
        """
        run, plan = self._pending(run_id)
        district, rules, source = self._resolve(run.district_id, source)
        approval = Approval(
            run_id=run.id,
            fingerprint=plan.fingerprint,
            items=plan.items,
            total=int(plan.summary.get("total_changes", 0)),
            actor=actor,
        )
        report = self._pipeline(
            district, rules, source, trigger="approval", approval=approval, on_run=on_run
        )
        if report.status == "succeeded":
            # A pushed bundle held with the approved run now succeeded, applied by this one.
            with self._engine.begin() as conn:
                store_push.settle_held(
                    conn,
                    held_run_id=run.id,
                    status="succeeded",
                    now=datetime.now(UTC),
                    run_id=report.run_id,
                )
        # The data manager hears about every approved sync, as about every scheduled one.
        self.notify(report.run_id)
        return report

    def discard(self, run_id: str, actor: str) -> store_runs.SyncRunRecord:
        """Discard a previewed or held run; the portal stays exactly as it is.

        Raises:
            NotFoundError: No such run.
            RunNotPending: The run is not waiting for a decision.
        """
        run, _plan = self._pending(run_id)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            if not store_workflow.decide_run(
                conn, run_id=run.id, pending=PENDING, status="discarded", actor=actor, now=now
            ):
                raise RunNotPending(f"run {run.id} was decided meanwhile; nothing to discard")
            # A pushed bundle held with this run is discarded with it.
            store_push.settle_held(conn, held_run_id=run.id, status="discarded", now=now)
            store_workflow.audit(
                conn,
                district_id=run.district_id,
                run_id=run.id,
                actor=actor,
                action="discard",
                entity_type="sync_run",
                entity_id=run.id,
                changes=None,
                now=now,
            )
            return store_runs.get_run(conn, run.id)

    def revalidate(self, slug_or_id: str, *, source: RosterSource | None = None) -> SyncReport:
        """Re-pull and re-check a district after it fixed its data: a sync with trigger
        `revalidate` that provisions what now passes and closes the issues that are fixed."""
        return self.sync(slug_or_id, trigger="revalidate", source=source)

    # Deltas run on demand between the scheduled full syncs, which stay the only runs that
    # notice records that vanished (docs/decisions/0009-delta-sync.md).
    def delta(
        self,
        slug_or_id: str,
        *,
        source: RosterSource | None = None,
        observers: Sequence[events.Observer] = (),
    ) -> SyncReport:
        """Pull only what changed since the district's watermark and apply exactly that.

        `tobedeleted` records are deactivated; nobody is deactivated for being absent. The
        watermark advances only when the run succeeds. A Clever district reads its events after
        the kept position instead (`sync.change_feed`); when Clever no longer keeps them, the
        run is a full sync whose report says why.

        Args:
            slug_or_id: The district.
            source: Pull from this source instead of the configured one (a REST source's
                `filter` is set to the delta filter).
            observers: Hear the run's events (`sync.events`): phases, counts, its end.

        Raises:
            FullSyncRequired: No full sync of the district's current source has succeeded yet.
            ConfigError: The district is not rostered from a pulled source, or the source
                can neither filter nor follow a feed of changes.
            SyncInProgress: Another sync of the district is running.
        """
        district, rules, source = self._resolve(slug_or_id, source)
        with self._engine.connect() as conn:
            settings = store_workflow.get_settings(conn, district.id)
        # Recorded for the run page like every other run.
        return execute_delta(
            self._engine,
            district_id=district.id,
            rules=rules,
            source=source,
            observers=[ProgressRecorder(self._engine, district.id), *observers],
            safeguards=settings.safeguards,
            holder=this_process(),
        )

    def delta_watermark(self, slug_or_id: str) -> store_delta.Watermark | None:
        """The district's delta watermark, or None before its first successful sync."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_delta.get_watermark(conn, district.id)

    def start_in_background(
        self, slug_or_id: str, *, mode: str, wait_seconds: float = 0.0, actor: str = ""
    ) -> str:
        """Start a preview ("preview") or a sync ("apply") in the background; returns its run id.

        Returns once the run holds the district's lock, or once it has ended if that takes at
        most `wait_seconds` (so a small district's page shows the outcome straight away). Who
        started it (`actor`, e.g. "staff:<id>") is written to the audit log as the run's "start".

        Raises:
            ConfigError: The district cannot be synced (not rostered, no credentials), or
                `mode` is neither "preview" nor "apply".
            SyncInProgress: The district is already syncing, or the pool is full.
        """
        if mode not in ("preview", "apply"):
            raise ConfigError(f"mode {mode!r} must be 'preview' or 'apply'")
        district, rules, source = self._resolve(slug_or_id, None)
        started, future = self._in_background(
            district.id,
            lambda on_run: self._pipeline(
                district, rules, source, trigger="manual", mode=mode, on_run=on_run
            ),
        )
        if started is None:
            return future.result().run_id  # a skipped run, or its refusal raised here
        if actor:
            with self._engine.begin() as conn:
                store_workflow.audit(
                    conn,
                    district_id=district.id,
                    run_id=started,
                    actor=actor,
                    action=STARTED,
                    entity_type="sync_run",
                    entity_id=started,
                    changes={"mode": mode},
                    now=datetime.now(UTC),
                )
        wait([future], timeout=wait_seconds)
        return started

    def approve_in_background(self, run_id: str, actor: str, *, wait_seconds: float = 0.0) -> str:
        """Approve a previewed or held run in the background (`approve`): returns the id of the
        run that applies it once that run holds the district's lock, or once it has ended if that
        takes at most `wait_seconds`. A roster that changed since the preview fails that run,
        whose page says so.

        Raises:
            NotFoundError: No such run.
            RunNotPending: The run is not waiting for a decision.
            SyncInProgress: The district is already syncing, or the pool is full.
        """
        run, _ = self._pending(run_id)
        started, future = self._in_background(
            run.district_id, lambda on_run: self.approve(run_id, actor, on_run=on_run)
        )
        if started is None:
            return future.result().run_id  # a refusal raised here
        wait([future], timeout=wait_seconds)
        return started

    def _in_background(
        self, district_id: str, work: Callable[[Callable[[str], None]], SyncReport]
    ) -> tuple[str | None, Future[SyncReport]]:
        """Run `work` on the portal's pool of background runs, handing it the hook that hears its
        run's id; returns that id once the run holds the district's lock (None when no run
        started: the future then holds a skipped run's report, or raises its refusal).

        Raises:
            SyncInProgress: The pool is full.
        """
        if not self._slots.acquire(blocking=False):
            raise SyncInProgress(
                f"the portal is already running {BACKGROUND_RUNS} syncs started from its "
                "pages; wait for one to finish (its run page shows how far it is), then start "
                "again"
            )
        started: list[str] = []
        holding = threading.Event()

        def on_run(run_id: str) -> None:
            started.append(run_id)
            holding.set()

        def run() -> SyncReport:
            try:
                return work(on_run)
            except BaseException as exc:
                # The run itself is recorded as failed by the pipeline; this says it was ours.
                _log.warning(
                    "run.background_failed", district_id=district_id, error_type=type(exc).__name__
                )
                raise
            finally:
                self._slots.release()
                holding.set()

        future = self._pool.submit(run)
        holding.wait()
        return (started[0] if started else None), future

    # Reading -----------------------------------------------------------------------------------
    def recent(self, slug_or_id: str, *, limit: int = 20) -> list[store_runs.SyncRunRecord]:
        """A district's newest runs, newest first."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return list(store_runs.list_runs(conn, district.id, limit))

    def get(self, run_id: str) -> store_runs.SyncRunRecord:
        with self._engine.connect() as conn:
            return store_runs.get_run(conn, run_id)

    def issues(self, run_id: str) -> list[store_runs.IssueRecord]:
        """The validation issues a run found."""
        with self._engine.connect() as conn:
            store_runs.get_run(conn, run_id)
            return list(store_runs.list_issues(conn, run_id))

    def open_issues(self, slug_or_id: str, kind: str | None = None) -> list[store_runs.IssueRecord]:
        """A district's open validation issues, optionally of one kind (`student`, `class`, …)."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_workflow.list_open_issues(conn, district.id, entity=kind)

    def issue_list(
        self,
        slug_or_id: str,
        filters: IssueFilters,
        *,
        seek: store_issue_lists.IssueSeek | None = None,
        whole: bool = False,
    ) -> store_issue_lists.IssueList:
        """A district's open issues to work through: counted per problem, the filters' choices,
        and a page of those that match `filters` from `seek` (all of them when `whole`, for a
        download).
        A district that pushes files fixes them there (`Audience.FILES`), any other in its SIS
        and its provider's source (`Registry.audience`)."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            kind = store_districts.get_integration(conn, district.id).source_kind
            audience = PROVIDERS.audience(kind)
            return store_issue_lists.issue_list(
                conn, district.id, filters, audience=audience, seek=seek, whole=whole
            )

    def plan(self, run_id: str) -> store_workflow.PlanRecord:
        """What a previewed, held or applied run intended (summary, fingerprint, hold reason)."""
        with self._engine.connect() as conn:
            return store_workflow.get_plan(conn, run_id)

    def plan_subjects(
        self, district_id: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], store_plan_subjects.PlanSubject]:
        """Names, roles, student IDs and schools of a plan's (kind, sourcedId) changes."""
        with self._engine.connect() as conn:
            return store_plan_subjects.lookup_subjects(conn, district_id, keys)

    def listed_changes(
        self, run_id: str, district_id: str, *, action: str, text: str, seek: Seek | None
    ) -> tuple[SeekPage, list[store_plan_changes.ListedChange]] | None:
        """A page (50) of the changes listed when the run was held, named; None when none were
        (a preview, or a run held before they were listed: its summary is all there is)."""
        with self._engine.connect() as conn:
            if not store_plan_changes.recorded(conn, run_id):
                return None
            return store_plan_changes.page(
                conn, run_id, district_id, action=action, text=text, seek=seek
            )

    def every_listed_change(
        self, run_id: str, district_id: str, *, action: str, text: str
    ) -> list[store_plan_changes.ListedChange] | None:
        """Every listed change that matches, for the download; None as for `listed_changes`."""
        with self._engine.connect() as conn:
            if not store_plan_changes.recorded(conn, run_id):
                return None
            return list(
                store_plan_changes.every(conn, run_id, district_id, action=action, text=text)
            )

    def progress(self, run_id: str) -> store_progress.RunProgress | None:
        """A run's last recorded progress, or None.

        Raises:
            NotFoundError: No such run.
        """
        with self._engine.connect() as conn:
            store_runs.get_run(conn, run_id)
            return store_progress.get_progress(conn, run_id)

    def configured_source(self, slug_or_id: str) -> RosterSource:
        """The district's own roster source (ClassLink), credentials decrypted."""
        return self._resolve(slug_or_id, None)[2]

    def notify(self, run_id: str, *, sender: Sender | None = None) -> list[str]:
        """Email the district's data managers how a run ended (summary, held or failed).

        For callers outside the job queue, e.g. after `approve`. Never raises for a mail
        server that is down.

        Returns:
            The names of the emails sent.
        """
        notifier = Notifier(
            self._engine, self._context.settings, sender, audience_of=PROVIDERS.audience
        )
        return notifier.after_run(run_id)

    # The steps every run shares ----------------------------------------------------------------
    def _pending(self, run_id: str) -> tuple[store_runs.SyncRunRecord, store_workflow.PlanRecord]:
        with self._engine.connect() as conn:
            run = store_runs.get_run(conn, run_id)
            if run.status not in PENDING:
                raise RunNotPending(
                    f"run {run_id} is {run.status}; only a previewed or held run can be "
                    "approved or discarded (`rostersync runs <district>` lists them)"
                )
            return run, store_workflow.get_plan(conn, run_id)

    def _resolve(
        self, slug_or_id: str, source: RosterSource | None
    ) -> tuple[store_districts.DistrictRecord, DistrictRules, RosterSource]:
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            rules = store_districts.rules_for(integration)
            if source is None:
                if integration.source_kind == push.KIND:
                    return district, rules, newest_pushed_source(self._context, conn, district)
                provider = PROVIDERS.get(integration.source_kind)
                if not provider.pulls:
                    raise ConfigError(provider.not_pulled.format(district=district.display_name))
                key, secret = store_districts.get_credentials(conn, self._context.box, district.id)
                # One place picks the door: the district's provider (`rostersync.providers`).
                source = provider.build_source(integration, key, secret, self._context.settings)
        return district, rules, source

    def _pipeline(
        self,
        district: store_districts.DistrictRecord,
        rules: DistrictRules,
        source: RosterSource,
        *,
        trigger: str,
        observers: Sequence[events.Observer] = (),
        mode: str = "apply",
        approval: Approval | None = None,
        on_run: Callable[[str], None] | None = None,
    ) -> SyncReport:
        """Run the pipeline with the district's safeguards, honouring its pause window.

        Every run records its progress for the run page (`store.progress`); `on_run` hears the
        run's id as soon as it holds the district's lock, before the pull's first request.
        """
        with self._engine.connect() as conn:
            settings = store_workflow.get_settings(conn, district.id)
        reason = skip_reason(trigger, settings.pause, today_in(district.time_zone))
        if reason is not None:
            return record_skip(
                self._engine, district_id=district.id, trigger=trigger, reason=reason
            )
        # The run page's recorder first: `on_run` hears a run whose progress is recorded.
        told: list[events.Observer] = [
            ProgressRecorder(self._engine, district.id),
            count_runs,
            *observers,
        ]
        if on_run is not None:
            told.append(events.starting(on_run))
        if isinstance(source, ChangeFeedSource):
            # Where its feed of changes stood, kept once the run succeeded: a delta goes on there.
            told.append(keep_position(self._engine, district.id, source))
        return execute_sync(
            self._engine,
            district_id=district.id,
            rules=rules,
            source=source,
            trigger=trigger,
            observers=told,
            mode=events.Mode(mode),
            safeguards=settings.safeguards,
            approval=approval,
            holder=this_process(),
            skip_unchanged=self._context.settings.skip_unchanged_rows,
        )
