"""Districts: onboarding one from the CLI, reading them, their settings, their health at a
glance, who gets their summary emails, going live."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import structlog
from sqlalchemy.engine import Connection

from rostersync.domain.emails import normal_email
from rostersync.domain.issue_groups import Audience
from rostersync.domain.questionnaire import Questionnaire
from rostersync.domain.safeguards import PauseWindow, Safeguards
from rostersync.errors import ConfigError
from rostersync.providers import PROVIDERS
from rostersync.providers import push as push_provider
from rostersync.scheduling import (
    ScheduleInfo,
    district_schedule,
    district_schedules,
    schedules_from,
)
from rostersync.services.answers import check as answers_check
from rostersync.services.context import ServiceContext
from rostersync.store import admin as store_admin
from rostersync.store import audit_subjects as store_audit_subjects
from rostersync.store import delta as store_delta
from rostersync.store import district_health as store_health
from rostersync.store import districts as store_districts
from rostersync.store import list_pages
from rostersync.store import push as store_push
from rostersync.store import records as store_records
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow
from rostersync.store.keyset import Seek, SeekPage

_log = structlog.get_logger(__name__)

# The runs a district's page charts and lists, and the pushed files it lists.
HEALTH_RUNS = 30
HEALTH_FILES = 20
# Who gets a district's summary emails: a few addresses, each a plausible email.
MAX_RECIPIENTS = 20
MAX_EMAIL = 320
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Staleness:
    """Why a district's roster looks stale: the newest change the portal holds from its source
    is older than `threshold_days` (the rule of the stale-data email, `notify.notifier`), or no
    sync has succeeded for that long.

    Attributes:
        newest_change: The newest `dateLastModified` a successful sync applied (the delta
            watermark), or None when no sync saw one.
        last_success_at: When a sync last succeeded, or None if none ever did.
        threshold_days: The `stale_after_days` setting.
        source_quiet: The source's newest change is older than the threshold.
        sync_overdue: No sync has succeeded within the threshold.
    """

    newest_change: datetime | None
    last_success_at: datetime | None
    threshold_days: int
    source_quiet: bool
    sync_overdue: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DistrictHealth:
    """A district at a glance, read in a few set-based queries (`Districts.health`).

    Attributes:
        district_id: The district.
        now: When it was read (the page says ages from it).
        last_success_at: When a sync last succeeded (applied its roster); None if none did.
        last_success_run_id: That run.
        next_sync_at: When the schedule runs it next (UTC); None when it is not scheduled
            (a push district, a paused one, answers that make no schedule).
        schedule: The schedule in words, or how the district syncs instead.
        open_errors: Open validation issues that are errors.
        open_warnings: Open validation issues that are warnings.
        stale: Why its roster looks stale, or None when it does not.
        runs: Its newest runs (at most `HEALTH_RUNS`), newest first.
        runs_total: How many runs it has in all.
        recipients: Who gets its summary emails (its data manager emails).
        pushes: Whether it pushes files instead of being pulled from.
        pushed: Its newest pushed files (at most `HEALTH_FILES`), newest first.
        pushed_total: How many files it pushed in all.
    """

    district_id: str
    now: datetime
    last_success_at: datetime | None
    last_success_run_id: str | None
    next_sync_at: datetime | None
    schedule: str
    open_errors: int
    open_warnings: int
    stale: Staleness | None
    runs: tuple[store_runs.SyncRunRecord, ...]
    runs_total: int
    recipients: tuple[str, ...]
    pushes: bool
    pushed: tuple[store_push.PushedBundle, ...]
    pushed_total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OverviewPage:
    """A page of the districts list (`Districts.overview_page`): each district at a glance,
    and where the page stands in the list."""

    overviews: list[store_admin.DistrictOverview]
    page: SeekPage


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientsChange:
    """What saving a district's summary recipients did: how many were added and removed."""

    recipients: tuple[str, ...]
    added: int
    removed: int


def recipient_list(text: str) -> list[str]:
    """The addresses of a recipients form: one per line, or separated by commas or semicolons."""
    return [e for e in re.split(r"[\s,;]+", text.strip()) if e]


class Districts:
    """The districts of the portal and what is known of each."""

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._engine = context.engine

    def add(self, answers: Questionnaire) -> store_districts.DistrictRecord:
        """Onboard a district from its questionnaire and credentials (the CLI's `add-district`).

        Raises:
            ConfigError: The answers cannot work, or the slug is taken.
        """
        answers_check(answers)
        if not PROVIDERS.get(answers.source_kind).needs_url:
            answers.source_url = ""  # e.g. the proxy's address is the vendor's setting
        with self._engine.begin() as conn:
            return store_districts.create_district(conn, self._context.box, answers)

    def list_all(self) -> list[store_districts.DistrictRecord]:
        with self._engine.connect() as conn:
            return list(store_districts.list_districts(conn))

    def get(
        self, slug_or_id: str
    ) -> tuple[store_districts.DistrictRecord, store_districts.IntegrationRecord]:
        """A district and its integration (questionnaire answers; credentials stay encrypted)."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return district, store_districts.get_integration(conn, district.id)

    def audience(self, slug_or_id: str) -> Audience:
        """Whom the district's fixes speak to: its SIS and its source (ClassLink, Clever), or
        the files it pushes."""
        return PROVIDERS.audience(self.get(slug_or_id)[1].source_kind)

    def people(
        self, slug_or_id: str, *, kind: str, limit: int, offset: int = 0
    ) -> Sequence[store_roster.StudentRow | store_roster.EducatorRow]:
        """A page of a district's students (`kind="students"`) or educators."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            if kind == "students":
                return store_roster.list_students(conn, district.id, limit=limit, offset=offset)
            return store_roster.list_educators(conn, district.id, limit=limit, offset=offset)

    def counts(self, slug_or_id: str) -> dict[str, dict[str, int]]:
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_roster.count_entities(conn, district.id)

    def audit_entries(self, slug_or_id: str, *, limit: int = 200) -> list[store_runs.AuditEntry]:
        """A district's most recent audit entries, newest first."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return list(store_runs.audit_entries(conn, district.id, limit))

    def run_page(
        self, slug_or_id: str, *, seek: Seek | None = None, size: int = 50
    ) -> list_pages.Listing[store_runs.SyncRunRecord]:
        """A page of a district's runs, newest first, after (or before) a position."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return list_pages.run_page(conn, district.id, seek=seek, size=size)

    def audit_page(
        self, slug_or_id: str, *, seek: Seek | None = None, size: int = 50, run_id: str = ""
    ) -> list_pages.Listing[store_runs.AuditEntry]:
        """A page of a district's audit entries (or, `run_id`, of one run's), newest first,
        after (or before) a position."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return list_pages.audit_page(conn, district.id, seek=seek, size=size, run_id=run_id)

    def run_issue_page(
        self, run_id: str, *, closed: bool, seek: Seek | None = None, size: int = 50
    ) -> list_pages.Listing[store_runs.IssueRecord]:
        """A page of the issues a run opened, or (`closed`) closed, by id."""
        with self._engine.connect() as conn:
            return list_pages.run_issue_page(conn, run_id, closed=closed, seek=seek, size=size)

    def audit_subjects(
        self, district_id: str, entries: Sequence[store_runs.AuditEntry]
    ) -> dict[tuple[str, str], store_audit_subjects.AuditSubject]:
        """The records a page of audit entries changed, named as people know them now."""
        with self._engine.connect() as conn:
            return store_audit_subjects.audit_subjects(conn, district_id, entries)

    def run_starter(self, run_id: str) -> str | None:
        """Who started a run from the portal or the API (the actor of its "start" audit entry),
        or None (a schedule, a push or an approval started it)."""
        with self._engine.connect() as conn:
            return list_pages.run_starter(conn, run_id)

    def actor_display_names(self, district_id: str, actors: Sequence[str | None]) -> dict[str, str]:
        """Names for the staff, educators and runs among `actors`, as a page shows them:
        "Pat Staff (vendor staff)", "the sync of 2026-12-07 05:00 UTC"; others are left out
        (`web.presentation.actor_words` words them by kind)."""
        wanted = {a for a in actors if a}
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            found = store_records.actor_names(conn, district_id, wanted)
        return {a: _actor_words(n) for a, n in found.items()}

    def run_issue_counts(self, run_id: str) -> tuple[int, int]:
        """How many issues a run opened and how many it closed."""
        with self._engine.connect() as conn:
            return list_pages.run_issue_counts(conn, run_id)

    def open_issue_page(
        self,
        slug_or_id: str,
        *,
        code: str = "",
        sourced_ids: Sequence[str] = (),
        seek: Seek | None = None,
        size: int = 100,
    ) -> list_pages.Listing[store_runs.IssueRecord]:
        """A page of a district's open issues by id, optionally of one problem or record."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return list_pages.open_issue_page(
                conn, district.id, code=code, sourced_ids=sourced_ids, seek=seek, size=size
            )

    def workflow_settings(self, slug_or_id: str) -> store_workflow.WorkflowSettings:
        """A district's safeguard thresholds and pause window."""
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_workflow.get_settings(conn, district.id)

    def set_workflow_settings(
        self,
        slug_or_id: str,
        *,
        safeguards: Safeguards | None = None,
        pause: PauseWindow | None = None,
    ) -> None:
        """Set a district's safeguard thresholds (None: the defaults) and pause window."""
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            store_workflow.save_settings(
                conn,
                district_id=district.id,
                safeguards=safeguards or Safeguards(),
                pause=pause,
                now=datetime.now(UTC),
            )

    def set_live(self, slug_or_id: str, actor: str) -> store_districts.DistrictRecord:
        """Let a district's people sign in from now on (staff decide, or the go-live date)."""
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            _go_live(conn, district.id, actor)
            return store_districts.get_district(conn, district.id)

    def go_live_due(self, today: date, *, actor: str = "scheduler") -> list[str]:
        """Make every onboarding district whose go-live date is on or before `today` live.

        Returns:
            The slugs of the districts that went live.
        """
        slugs: list[str] = []
        with self._engine.begin() as conn:
            for district_id in store_workflow.due_for_go_live(conn, today):
                if _go_live(conn, district_id, actor):
                    slugs.append(store_districts.get_district(conn, district_id).slug)
        return sorted(slugs)

    def can_sign_in(self, slug_or_id: str) -> bool:
        """True once the district is live: before go-live accounts exist but nobody signs in."""
        with self._engine.connect() as conn:
            return store_districts.get_district(conn, slug_or_id).status == "live"

    def schedule(self, slug_or_id: str) -> ScheduleInfo:
        """A district's schedule in words and its next run.

        Raises:
            NotFoundError: No such district.
            ConfigError: Its answers describe no usable schedule.
        """
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return district_schedule(conn, district.id, district.status)

    def schedules(self, statuses: tuple[str, ...]) -> dict[str, ScheduleInfo]:
        """Every district's schedule with one of `statuses`, by district id, read in one pass
        (four queries whatever the number of districts). A district whose answers describe no
        usable schedule, or that is never scheduled (push, pending), is left out."""
        with self._engine.connect() as conn:
            return dict(district_schedules(conn, statuses))

    def health(
        self, slug_or_id: str, *, now: datetime | None = None, runs: int = HEALTH_RUNS
    ) -> DistrictHealth:
        """A district at a glance: its last successful sync, next scheduled one, open issues,
        whether its roster looks stale, its newest runs, who gets its emails and, for a push
        district, the files it pushed. A fixed handful of queries whatever its history.

        Raises:
            NotFoundError: No such district.
        """
        now = now or datetime.now(UTC)
        with self._engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            totals = store_health.run_totals(conn, district.id)
            issues = store_health.issue_totals(conn, district.id)
            recent = store_runs.list_runs(conn, district.id, runs)
            watermark = store_delta.get_watermark(conn, district.id)
            provider = PROVIDERS.get(integration.source_kind)
            pushes = integration.source_kind == push_provider.KIND
            files, files_total = (
                store_health.pushed_files(conn, district.id, limit=HEALTH_FILES)
                if pushes
                else ([], 0)
            )
            next_at, words = None, "not scheduled: it syncs when the district pushes a file"
            if not pushes:
                next_at, words = _next_sync(conn, district, scheduled=provider.scheduled)
        newest = watermark.moment if watermark is not None else None
        return DistrictHealth(
            district_id=district.id,
            now=now,
            last_success_at=totals.last_success_at,
            last_success_run_id=totals.last_success_id,
            next_sync_at=next_at,
            schedule=words,
            open_errors=issues.errors,
            open_warnings=issues.warnings,
            stale=_staleness(
                newest,
                totals.last_success_at,
                now=now,
                days=self._context.settings.stale_after_days,
            ),
            runs=tuple(recent),
            runs_total=totals.total,
            recipients=integration.data_manager_emails,
            pushes=pushes,
            pushed=tuple(files),
            pushed_total=files_total,
        )

    def set_recipients(
        self, slug_or_id: str, emails: Sequence[str], actor: str
    ) -> RecipientsChange:
        """Replace who gets a district's summary emails (vendor staff decide: the web page's
        gate and the CLI's operator). The same addresses let their owners sign in through
        ClassLink as the district's data managers (`store.signin`).

        Addresses are trimmed and lower-cased, duplicates dropped; the audit row counts the
        addresses added and removed and never names them.

        Raises:
            ConfigError: No address, too many, or one that is not an email address (the
                message counts them, never repeats them).
            NotFoundError: No such district.
        """
        wanted = list(dict.fromkeys(normal_email(e) for e in emails if e.strip()))
        bad = [e for e in wanted if len(e) > MAX_EMAIL or not _EMAIL.fullmatch(e)]
        if not wanted:
            raise ConfigError("enter at least one email address to send the summaries to")
        if bad:
            which = "1 of these is" if len(bad) == 1 else f"{len(bad)} of these are"
            raise ConfigError(
                f"{which} not an email address; write one per line, like name@district.org"
            )
        if len(wanted) > MAX_RECIPIENTS:
            raise ConfigError(
                f"{len(wanted)} addresses are more than the {MAX_RECIPIENTS} a district's "
                "summaries go to; list the people who act on them, or a shared mailbox"
            )
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            before = set(store_districts.get_integration(conn, district.id).data_manager_emails)
            after = tuple(wanted)
            added, removed = len(set(after) - before), len(before - set(after))
            store_districts.update_integration(
                conn, district.id, now=now, data_manager_emails=after
            )
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="summary_recipients",
                entity_type="district",
                entity_id=district.id,
                changes={"added": added, "removed": removed, "recipients": len(after)},
                now=now,
            )
        _log.info(
            "district.recipients_set",
            district_id=district.id,
            added=added,
            removed=removed,
            recipients=len(after),
        )
        return RecipientsChange(recipients=after, added=added, removed=removed)

    def overviews(self, only: str | None = None) -> list[store_admin.DistrictOverview]:
        """Every district (or only the one with id `only`) with its last run, next sync and
        open issue count, by display name."""
        with self._engine.connect() as conn:
            found = [d for d in store_districts.list_districts(conn) if only in (None, d.id)]
        return self._overviews(sorted(found, key=lambda d: (d.display_name, d.id)))

    def overview_page(
        self, only: str | None = None, *, seek: Seek | None = None, size: int = 50
    ) -> OverviewPage:
        """A page of the districts by display name (or only the one with id `only`), each with
        its last run, next sync and open issue count, after (or before) a position."""
        with self._engine.connect() as conn:
            listing = list_pages.district_page(conn, only=only, seek=seek, size=size)
        return OverviewPage(overviews=self._overviews(listing.items), page=listing.page)

    def _overviews(
        self, found: Sequence[store_districts.DistrictRecord]
    ) -> list[store_admin.DistrictOverview]:
        """The districts `found`, in their order, each with its last run, next sync and open
        issues: a few queries for them all."""
        ids = [d.id for d in found]
        with self._engine.connect() as conn:
            last = store_admin.last_runs(conn, ids)
            issues = store_admin.open_issue_counts(conn, ids)
            # The schedules of these districts alone, read together: a page of the list costs
            # the same with thousands of districts as with a few.
            inputs = list_pages.page_schedules(
                conn, ids, unscheduled_kinds=tuple(PROVIDERS.unscheduled_kinds())
            )
        schedules = schedules_from(
            inputs.rows,
            last_slots=inputs.last_slots,
            quarantined=inputs.quarantined,
            unscheduled=inputs.unscheduled,
        )
        overviews = []
        for d in found:
            # An unschedulable district (paused, no usable answers) has no next sync.
            info = schedules.get(d.id)
            status, at = last.get(d.id, (None, None))
            overviews.append(
                store_admin.DistrictOverview(
                    district=d,
                    last_run_status=status,
                    last_run_at=at,
                    next_sync_at=info.next_run_utc if info is not None else None,
                    open_issues=issues.get(d.id, 0),
                )
            )
        return overviews


def _next_sync(
    conn: Connection, district: store_districts.DistrictRecord, *, scheduled: bool
) -> tuple[datetime | None, str]:
    """When the schedule runs the district next, and its schedule in words."""
    if not scheduled:
        return None, "not scheduled: its source is not set up yet"
    try:
        info = district_schedule(conn, district.id, district.status)
    except (ConfigError, StopIteration):
        return None, "not scheduled: its answers describe no usable schedule"
    if info.next_run_utc is None:
        return None, f"{info.description}, not running while the district is {district.status}"
    return info.next_run_utc, info.description


def _staleness(
    newest_change: datetime | None, last_success: datetime | None, *, now: datetime, days: int
) -> Staleness | None:
    """Why the roster looks stale (the stale-data email's rule, and no success for as long),
    or None."""
    limit = timedelta(days=days)
    quiet = newest_change is not None and now - newest_change > limit
    overdue = last_success is not None and now - last_success > limit
    if not (quiet or overdue):
        return None
    return Staleness(
        newest_change=newest_change,
        last_success_at=last_success,
        threshold_days=days,
        source_quiet=quiet,
        sync_overdue=overdue,
    )


def _go_live(conn: Connection, district_id: str, actor: str) -> bool:
    if not store_workflow.set_status(conn, district_id, "live", only_from=("onboarding", "paused")):
        return False
    store_workflow.audit(
        conn,
        district_id=district_id,
        run_id=None,
        actor=actor,
        action="go_live",
        entity_type="district",
        entity_id=district_id,
        changes={"status": "live"},
        now=datetime.now(UTC),
    )
    return True


def _actor_words(actor: store_records.ActorName) -> str:
    if actor.kind == "sync_run" and actor.started_at is not None:
        return f"the sync of {actor.started_at:%Y-%m-%d %H:%M} UTC"
    return f"{actor.name} ({actor.role})" if actor.role else actor.name
