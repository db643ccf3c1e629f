"""The one service API. The CLI, the web app and the job queue all call these, nothing else.

`RosterSync` owns the database engine and the secret box for one configuration; every method is
one unit of work in its own transaction.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy.engine import Connection, Engine

from rostersync.config import Settings
from rostersync.domain import staff_import
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.safeguards import PauseWindow, Safeguards, skip_reason
from rostersync.errors import (
    AccountRejected,
    ConfigError,
    CredentialNotForSource,
    ManualRosteringDisabled,
    RunNotPending,
)
from rostersync.providers import PROVIDERS, classlink_proxy, none, oneroster_v1p1, push
from rostersync.store import accounts as store_accounts
from rostersync.store import delta as store_delta
from rostersync.store import districts as store_districts
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow
from rostersync.store.credentials import SourceIdentity
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.secrets import SecretBox
from rostersync.sync.delta import execute_delta
from rostersync.sync.pipeline import PENDING, Approval, SyncReport, execute_sync, record_skip
from rostersync.sync.sources import Progress, RosterSource

SYNC_FREQUENCIES = ("daily", "weekdays", "weekly", "every_n_days")
# Source kinds are the providers' (`rostersync.providers`); these names are kept for callers.
PUSH_SOURCE_KIND = push.KIND
PENDING_SOURCE_KIND = none.PENDING_KIND
PROXY_SOURCE_KIND = classlink_proxy.KIND

_log = structlog.get_logger(__name__)


@dataclass(slots=True, kw_only=True)
class DistrictSetup:
    """A district's onboarding answers and credentials, as a person fills them in."""

    slug: str
    name: str
    display_name: str
    city: str
    state: str
    # Empty, with source_kind "none", for a district that is not rostered (accounts by hand).
    source_url: str = ""
    key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    source_kind: str = oneroster_v1p1.KIND
    time_zone: str = "America/Chicago"
    tenant_id: str | None = None
    data_manager_emails: list[str] = field(default_factory=list)
    grades_provided: bool = True
    unique_emails_provided: bool = True
    student_id_field: str = "identifier"
    eligibility_source: str = "portal"
    eligibility_field: str | None = None
    sync_frequency: str = "daily"
    sync_days: list[str] = field(default_factory=list)
    sync_interval_days: int | None = None
    sync_time: str = "05:00"
    go_live_date: date | None = None

    def check(self) -> None:
        """Refuse answers that cannot work, with what to change."""
        # The source's part is its provider's: a known kind, and the credentials it needs.
        PROVIDERS.get(self.source_kind).check(self)
        if self.sync_frequency not in SYNC_FREQUENCIES:
            raise ConfigError(
                f"sync frequency {self.sync_frequency!r} is not one of "
                f"{', '.join(SYNC_FREQUENCIES)}"
            )
        if self.sync_frequency == "every_n_days" and not (
            self.sync_interval_days and 1 <= self.sync_interval_days < 30
        ):
            raise ConfigError(
                "syncs must run less than 30 days apart: choose an interval of 1 to 29 days"
            )
        if self.sync_frequency == "weekly" and not self.sync_days:
            raise ConfigError("a weekly sync needs at least one day, e.g. --sync-day mon")
        try:
            source = EligibilitySource(self.eligibility_source)
        except ValueError:
            raise ConfigError("eligibility source must be 'portal' or 'metadata'") from None
        if source is EligibilitySource.METADATA and not self.eligibility_field:
            raise ConfigError(
                "eligibility from ClassLink needs the metadata field's name, e.g. "
                "--eligibility-field eligibility"
            )
        hh, _, mm = self.sync_time.partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ConfigError(f"sync time {self.sync_time!r} must be HH:MM, e.g. 05:30")


def _today_in(time_zone: str) -> date:
    """Today's date where the district is (a pause window is in the district's dates)."""
    try:
        return datetime.now(ZoneInfo(time_zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(UTC).date()


SourceFactory = Callable[[str, str, str], RosterSource]


class RosterSync:
    """rostersync's service API over one database."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or create_engine_for(settings.resolved_database_url)
        self.box = SecretBox(settings.encryption_keys())

    def close(self) -> None:
        self.engine.dispose()

    def init_db(self) -> None:
        """Create or upgrade the database schema (Alembic migrations)."""
        migrate(self.engine)

    # Districts ---------------------------------------------------------------------------------
    def add_district(self, setup: DistrictSetup) -> store_districts.DistrictRecord:
        setup.check()
        if not PROVIDERS.get(setup.source_kind).needs_url:
            setup.source_url = ""  # e.g. the proxy's address is the vendor's setting
        with self.engine.begin() as conn:
            return store_districts.create_district(
                conn,
                self.box,
                slug=setup.slug,
                name=setup.name,
                display_name=setup.display_name,
                city=setup.city,
                state=setup.state,
                time_zone=setup.time_zone,
                tenant_id=setup.tenant_id,
                source_kind=setup.source_kind,
                source_url=setup.source_url,
                key=setup.key,
                secret=setup.secret,
                data_manager_emails=setup.data_manager_emails,
                grades_provided=setup.grades_provided,
                unique_emails_provided=setup.unique_emails_provided,
                student_id_field=setup.student_id_field,
                eligibility_source=setup.eligibility_source,
                eligibility_field=setup.eligibility_field,
                sync_frequency=setup.sync_frequency,
                sync_days=setup.sync_days,
                sync_interval_days=setup.sync_interval_days,
                sync_time=setup.sync_time,
                go_live_date=setup.go_live_date,
            )

    def list_districts(self) -> list[store_districts.DistrictRecord]:
        with self.engine.connect() as conn:
            return list(store_districts.list_districts(conn))

    def district(self, slug_or_id: str) -> tuple[Any, Any]:
        """A district and its integration (questionnaire answers; credentials stay encrypted)."""
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return district, store_districts.get_integration(conn, district.id)

    # Syncs -------------------------------------------------------------------------------------
    def run_sync(
        self,
        slug_or_id: str,
        *,
        trigger: str = "manual",
        progress: Progress | None = None,
        source: RosterSource | None = None,
    ) -> SyncReport:
        """Pull the district's roster, validate it, and provision what passes.

        Args:
            slug_or_id: The district.
            trigger: Why the run happened (manual, scheduled, demo, …), kept on the run.
            progress: Called with (collection, records so far) while pulling.
            source: Pull from this source instead of the district's configured one.
        """
        district, rules, source = self._resolve(slug_or_id, source)
        return self._pipeline(district, rules, source, trigger=trigger, progress=progress)

    # Reading -----------------------------------------------------------------------------------
    def people(self, slug_or_id: str, *, kind: str, limit: int, offset: int = 0) -> list[Any]:
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            lister = (
                store_roster.list_students if kind == "students" else store_roster.list_educators
            )
            return list(lister(conn, district.id, limit=limit, offset=offset))

    def counts(self, slug_or_id: str) -> dict[str, dict[str, int]]:
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_roster.count_entities(conn, district.id)

    def runs(self, slug_or_id: str, *, limit: int = 20) -> list[Any]:
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return list(store_runs.list_runs(conn, district.id, limit))

    def run(self, run_id: str) -> Any:
        with self.engine.connect() as conn:
            return store_runs.get_run(conn, run_id)

    def issues(self, run_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            store_runs.get_run(conn, run_id)
            return list(store_runs.list_issues(conn, run_id))

    # --- workflow: preview, approve, safeguards, matching, revalidation (features add below) ---
    def preview_sync(
        self,
        slug_or_id: str,
        *,
        progress: Progress | None = None,
        source: RosterSource | None = None,
    ) -> SyncReport:
        """Compute the whole plan of a sync without writing any roster row, and store it.

        The run ends `previewed`, with its counts, issues, plan summary and fingerprint;
        `approve_run` applies it if the roster has not changed since.

        Raises:
            SyncInProgress: Another sync of the district is running.
        """
        district, rules, source = self._resolve(slug_or_id, source)
        return self._pipeline(
            district, rules, source, trigger="manual", progress=progress, mode="preview"
        )

    def approve_run(
        self, run_id: str, actor: str, *, source: RosterSource | None = None
    ) -> SyncReport:
        """Apply a previewed or held run: re-pull, re-plan, and apply only the same plan.

        Args:
            run_id: The previewed or held run.
            actor: Who approves (kept in the audit log).
            source: Pull from this source instead of the district's configured one.

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
        report = self._pipeline(district, rules, source, trigger="approval", approval=approval)
        if report.status == "succeeded":
            # A pushed bundle held with the approved run now succeeded, applied by this one.
            from rostersync.store import push as store_push

            with self.engine.begin() as conn:
                store_push.settle_held(
                    conn,
                    held_run_id=run.id,
                    status="succeeded",
                    now=datetime.now(UTC),
                    run_id=report.run_id,
                )
        # The data manager hears about every approved sync, as about every scheduled one.
        self.notify_run(report.run_id)
        return report

    def discard_run(self, run_id: str, actor: str) -> store_runs.SyncRunRecord:
        """Discard a previewed or held run; the portal stays exactly as it is.

        Raises:
            NotFoundError: No such run.
            RunNotPending: The run is not waiting for a decision.
        """
        from rostersync.store import push as store_push

        run, _plan = self._pending(run_id)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
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

    def run_plan(self, run_id: str) -> store_workflow.PlanRecord:
        """What a previewed, held or applied run intended (summary, fingerprint, hold reason)."""
        with self.engine.connect() as conn:
            return store_workflow.get_plan(conn, run_id)

    def revalidate(self, slug_or_id: str, *, source: RosterSource | None = None) -> SyncReport:
        """Re-pull and re-check a district after it fixed its data: a sync with trigger
        `revalidate` that provisions what now passes and closes the issues that are fixed."""
        return self.run_sync(slug_or_id, trigger="revalidate", source=source)

    def open_issues(self, slug_or_id: str, kind: str | None = None) -> list[Any]:
        """A district's open validation issues, optionally of one kind (`student`, `class`, …)."""
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_workflow.list_open_issues(conn, district.id, entity=kind)

    def workflow_settings(self, slug_or_id: str) -> store_workflow.WorkflowSettings:
        """A district's safeguard thresholds and pause window."""
        with self.engine.connect() as conn:
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
        with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            self._go_live(conn, district.id, actor)
            return store_districts.get_district(conn, district.id)

    def go_live_due(self, today: date, *, actor: str = "scheduler") -> list[str]:
        """Make every onboarding district whose go-live date is on or before `today` live.

        Returns:
            The slugs of the districts that went live.
        """
        slugs: list[str] = []
        with self.engine.begin() as conn:
            for district_id in store_workflow.due_for_go_live(conn, today):
                if self._go_live(conn, district_id, actor):
                    slugs.append(store_districts.get_district(conn, district_id).slug)
        return sorted(slugs)

    def can_sign_in(self, slug_or_id: str) -> bool:
        """True once the district is live: before go-live accounts exist but nobody signs in."""
        with self.engine.connect() as conn:
            return store_districts.get_district(conn, slug_or_id).status == "live"

    def _go_live(self, conn: Any, district_id: str, actor: str) -> bool:
        if not store_workflow.set_status(
            conn, district_id, "live", only_from=("onboarding", "paused")
        ):
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

    def _pending(self, run_id: str) -> tuple[Any, store_workflow.PlanRecord]:
        with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            rules = store_districts.rules_for(integration)
            if source is None:
                if integration.source_kind == PUSH_SOURCE_KIND:
                    return district, rules, self._newest_pushed_source(conn, district)
                provider = PROVIDERS.get(integration.source_kind)
                if not provider.pulls:
                    raise ConfigError(provider.not_pulled.format(district=district.display_name))
                key, secret = store_districts.get_credentials(conn, self.box, district.id)
                # One place picks the door: the district's provider (`rostersync.providers`).
                source = provider.build_source(integration, key, secret, self.settings)
        return district, rules, source

    def _pipeline(
        self,
        district: store_districts.DistrictRecord,
        rules: DistrictRules,
        source: RosterSource,
        *,
        trigger: str,
        progress: Progress | None = None,
        mode: str = "apply",
        approval: Approval | None = None,
        on_run: Callable[[str], None] | None = None,
    ) -> SyncReport:
        """Run the pipeline with the district's safeguards, honouring its pause window.

        Every run records its progress for the run page (`store.progress`); `on_run` hears the
        run's id as soon as it holds the district's lock, before the pull's first request.
        """
        with self.engine.connect() as conn:
            settings = store_workflow.get_settings(conn, district.id)
        reason = skip_reason(trigger, settings.pause, _today_in(district.time_zone))
        if reason is not None:
            return record_skip(self.engine, district_id=district.id, trigger=trigger, reason=reason)
        from rostersync.sync import events
        from rostersync.sync.recorder import ProgressRecorder

        # The run page's recorder first: `on_run` hears a run whose progress is recorded.
        observers: list[events.Observer] = [ProgressRecorder(self.engine, district.id)]
        if on_run is not None:
            observers.append(events.starting(on_run))
        if progress is not None:
            observers.append(events.counting(progress))
        return execute_sync(
            self.engine,
            district_id=district.id,
            rules=rules,
            source=source,
            trigger=trigger,
            observers=observers,
            mode=events.Mode(mode),
            safeguards=settings.safeguards,
            approval=approval,
            holder=f"{socket.gethostname()} pid {os.getpid()}",
        )

    # --- import: roster spreadsheets and hand-made accounts (features add below) ---

    def staff_import_template(self, fmt: str) -> bytes:
        """The staff import template as CSV or XLSX bytes (see `rostersync.importing`).

        Raises:
            ConfigError: `fmt` is neither "csv" nor "xlsx".
        """
        from rostersync.importing import staff_template

        return staff_template(fmt)

    def import_staff(
        self,
        slug_or_id: str,
        filename: str,
        data: bytes,
        actor: str,
        *,
        dry_run: bool = False,
        max_rows: int | None = None,
    ) -> staff_import.ImportReport:
        """Import non-teaching staff from a CSV or XLSX file: every row, or none.

        Each row becomes an educator account with its role, `manually_rostered`, no sourcedId,
        and an audit row naming `actor`. If any row has an error nothing is written and the
        report lists every error by row and column; otherwise all rows are inserted in bulk in
        one transaction.

        Args:
            slug_or_id: The district.
            filename: The uploaded file's name (for messages).
            data: The file's bytes.
            actor: The staff user importing, for the audit log.
            dry_run: Check everything but write nothing.
            max_rows: Most data rows accepted (default: `Settings.import_max_rows`).

        Raises:
            SpreadsheetRejected: The file's structure is unusable (nothing was read from it).
            NotFoundError: No such district.
        """
        from rostersync.importing import read_staff_sheet

        sheet = read_staff_sheet(filename, data, max_rows=max_rows or self.settings.import_max_rows)
        started = time.monotonic()
        with self.engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            emails = [staff_import.normal_email(r.cells.get("email", "")) for r in sheet.rows]
            accounts, errors = staff_import.validate_staff_rows(
                sheet.rows,
                schools=staff_import.school_lookup(store_accounts.schools(conn, district.id)),
                emails_in_use=store_accounts.emails_in_use(conn, district.id, emails),
                allow_teachers=not staff_import.is_rostered(integration.source_kind),
            )
            report = staff_import.ImportReport(
                filename=filename,
                rows=len(sheet.rows),
                valid=len(accounts),
                dry_run=dry_run,
                errors=errors,
            )
            if report.applied:
                report.account_ids = store_accounts.insert_educators(
                    conn,
                    district_id=district.id,
                    accounts=accounts,
                    actor=actor,
                    via="spreadsheet",
                    now=datetime.now(UTC),
                )
                report.created = len(report.account_ids)
        # Counts only: the file's names and emails never reach a log line.
        _log.info(
            "import.finished",
            district_id=district.id,
            status=report.status,
            rows=report.rows,
            created=report.created,
            errors=len(report.errors),
            seconds=round(time.monotonic() - started, 3),
        )
        return report

    def add_educator(
        self,
        slug_or_id: str,
        *,
        given_name: str,
        family_name: str,
        email: str,
        role: str,
        actor: str,
        school: str | None = None,
    ) -> str:
        """Make one educator account by hand in a district that is not rostered.

        Args:
            slug_or_id: The district.
            given_name: First name.
            family_name: Last name.
            email: Work email, unique in the district.
            role: "teacher" or one of `staff_import.STAFF_ROLES`.
            actor: The staff user, for the audit log.
            school: The school's identifier or sourcedId, if the district has schools.

        Returns:
            The new account's portal id.

        Raises:
            ManualRosteringDisabled: The district is rostered from ClassLink.
            AccountRejected: The details are invalid (`.problems` lists each).
        """
        with self.engine.begin() as conn:
            district = self._manual_district(conn, slug_or_id, "teacher")
            in_use = store_accounts.emails_in_use(
                conn, district.id, [staff_import.normal_email(email)]
            )
            problems = staff_import.check_person(
                given_name=given_name,
                family_name=family_name,
                email=email,
                email_required=True,
                emails_in_use=in_use,
            )
            roles = (staff_import.TEACHER, *staff_import.STAFF_ROLES)
            if role.strip().lower() not in roles:
                problems.append(f"role {role!r} is not one of: {', '.join(roles)}")
            found, problem = self._school(conn, district.id, school)
            problems.extend(problem)
            if problems:
                raise AccountRejected(
                    "the educator was not added: " + "; ".join(problems), problems=problems
                )
            account = staff_import.NewEducator(
                row=0,
                given_name=given_name.strip(),
                family_name=family_name.strip(),
                email=email.strip(),
                role=role.strip().lower(),
                school=found,
            )
            (portal_id,) = store_accounts.insert_educators(
                conn,
                district_id=district.id,
                accounts=[account],
                actor=actor,
                via="by hand",
                now=datetime.now(UTC),
            )
            return portal_id

    def add_student(
        self,
        slug_or_id: str,
        *,
        given_name: str,
        family_name: str,
        student_id: str,
        actor: str,
        email: str = "",
        grade: str = "",
        school: str | None = None,
    ) -> str:
        """Make one student account by hand in a district that is not rostered.

        Args:
            slug_or_id: The district.
            given_name: First name.
            family_name: Last name.
            student_id: The district's student ID, unique in the district.
            actor: The staff user, for the audit log.
            email: Email, if the student has one (unique in the district).
            grade: CEDS grade code (KG, 01–13, …), if known.
            school: The school's identifier or sourcedId, if the district has schools.

        Returns:
            The new account's portal id.

        Raises:
            ManualRosteringDisabled: The district is rostered from ClassLink.
            AccountRejected: The details are invalid (`.problems` lists each).
        """
        with self.engine.begin() as conn:
            district = self._manual_district(conn, slug_or_id, "student")
            in_use = store_accounts.emails_in_use(
                conn, district.id, [staff_import.normal_email(email)]
            )
            problems = staff_import.check_person(
                given_name=given_name,
                family_name=family_name,
                email=email,
                email_required=False,
                emails_in_use=in_use,
            )
            problems.extend(staff_import.check_grade(grade.strip()))
            if not student_id.strip():
                problems.append("the student ID is missing: give the district's student ID")
            elif store_accounts.student_ids_in_use(conn, district.id, student_id.strip()):
                problems.append(
                    "another student in this district has this student ID: the student may "
                    "already have an account, or correct the ID"
                )
            found, problem = self._school(conn, district.id, school)
            problems.extend(problem)
            if problems:
                raise AccountRejected(
                    "the student was not added: " + "; ".join(problems), problems=problems
                )
            return store_accounts.insert_student(
                conn,
                district_id=district.id,
                account=store_accounts.NewStudent(
                    given_name=given_name.strip(),
                    family_name=family_name.strip(),
                    email=email.strip(),
                    student_id=student_id.strip(),
                    grade=grade.strip(),
                    school_id=found.id if found else None,
                    school_sourced_id=found.sourced_id if found else None,
                ),
                actor=actor,
                now=datetime.now(UTC),
            )

    def _manual_district(
        self, conn: Connection, slug_or_id: str, who: str
    ) -> store_districts.DistrictRecord:
        """The district, if accounts may be made in it by hand; else say why and what instead."""
        district = store_districts.get_district(conn, slug_or_id)
        integration = store_districts.get_integration(conn, district.id)
        if staff_import.is_rostered(integration.source_kind):
            raise ManualRosteringDisabled(
                f"{district.name} is rostered from ClassLink, so accounts come from ClassLink: "
                f"add the {who} in your SIS/ClassLink, or import non-teaching staff with the "
                f"roster import spreadsheet (`rostersync import-staff {district.slug} <file>`)"
            )
        return district

    @staticmethod
    def _school(
        conn: Connection, district_id: str, key: str | None
    ) -> tuple[staff_import.School | None, list[str]]:
        """The school a hand-made account names, or the problem with the name."""
        if not key or not key.strip():
            return None, []
        lookup = staff_import.school_lookup(store_accounts.schools(conn, district_id))
        found = lookup.get(key.strip().lower())
        if found is None:
            return None, [
                f"no single school in this district has the identifier or sourcedId {key!r}: "
                "copy it from the portal's school list"
            ]
        return found, []

    # --- jobs: schedules, queue, notifications (features add below) ---

    def configured_source(self, slug_or_id: str) -> RosterSource:
        """The district's own roster source (ClassLink), credentials decrypted."""
        return self._resolve(slug_or_id, None)[2]

    def schedule_info(self, slug_or_id: str) -> Any:
        """A district's schedule in words and its next run (a `scheduling.ScheduleInfo`).

        Raises:
            NotFoundError: No such district.
            ConfigError: Its answers describe no usable schedule.
        """
        from rostersync.scheduling import district_schedule

        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return district_schedule(conn, district.id, district.status)

    def schedule_infos(self, statuses: tuple[str, ...]) -> dict[str, Any]:
        """Every district's schedule with one of `statuses`, by district id, read in one pass
        (four queries whatever the number of districts). A district whose answers describe no
        usable schedule, or that is never scheduled (push, pending), is left out."""
        from rostersync.scheduling import district_schedules

        with self.engine.connect() as conn:
            return dict(district_schedules(conn, statuses))

    def notify_run(self, run_id: str, *, sender: Any = None) -> list[str]:
        """Email the district's data managers how a run ended (summary, held or failed).

        For callers outside the job queue, e.g. after `approve_run`. Never raises for a mail
        server that is down.

        Returns:
            The names of the emails sent.
        """
        from rostersync.notify.notifier import Notifier

        return Notifier(self.engine, self.settings, sender).after_run(run_id)

    # --- delta: incremental syncs between full reconciliations (features add below) ---
    # Deltas run on demand between the scheduled full syncs, which stay the only runs that
    # notice records that vanished (docs/decisions/0009-delta-sync.md).
    def delta_sync(
        self,
        slug_or_id: str,
        *,
        source: RosterSource | None = None,
        progress: Progress | None = None,
    ) -> SyncReport:
        """Pull only what changed since the district's watermark and apply exactly that.

        `tobedeleted` records are deactivated; nobody is deactivated for being absent. The
        watermark advances only when the run succeeds.

        Args:
            slug_or_id: The district.
            source: Pull from this REST source instead of the configured one (its `filter` is
                set to the delta filter).
            progress: Called with (collection, records so far) while pulling.

        Raises:
            FullSyncRequired: No full sync has succeeded yet, so there is no watermark.
            ConfigError: The district is not rostered from ClassLink, or the source cannot
                filter.
            SyncInProgress: Another sync of the district is running.
        """
        from rostersync.sync import events
        from rostersync.sync.recorder import ProgressRecorder

        district, rules, source = self._resolve(slug_or_id, source)
        with self.engine.connect() as conn:
            settings = store_workflow.get_settings(conn, district.id)
        # Recorded for the run page like every other run.
        observers: list[events.Observer] = [ProgressRecorder(self.engine, district.id)]
        if progress is not None:
            observers.append(events.counting(progress))
        return execute_delta(
            self.engine,
            district_id=district.id,
            rules=rules,
            source=source,
            observers=observers,
            safeguards=settings.safeguards,
            holder=f"{socket.gethostname()} pid {os.getpid()}",
        )

    def delta_watermark(self, slug_or_id: str) -> store_delta.Watermark | None:
        """The district's delta watermark, or None before its first successful sync."""
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_delta.get_watermark(conn, district.id)

    # --- admin: staff sign-in, admin pages, JSON API, push endpoint (features add below) ---
    # Staff accounts live in rostersync.staff (imported lazily, like the sign-in section);
    # who may see which district is decided by `StaffViewer.can_see` (rostersync.staff.models).
    def staff_auth(self) -> Any:
        """Staff accounts and sign-in (`rostersync.staff.accounts.StaffAuth`), made once."""
        from rostersync.staff.accounts import StaffAuth

        auth = getattr(self, "_staff_auth", None)
        if auth is None:
            auth = StaffAuth(self.engine, self.settings)
            self._staff_auth = auth
        return auth

    def add_staff(
        self, *, email: str, display_name: str, role: str, password: str, district: str | None
    ) -> str:
        """Create a vendor staff or data manager account with a local password; returns its id."""
        return str(
            self.staff_auth().add_staff(
                email=email,
                display_name=display_name,
                role=role,
                password=password,
                district=district,
            )
        )

    def staff_sign_in(self, email: str, password: str, *, previous_session: str | None) -> Any:
        """Check a staff email and password and start a session (`StaffSignedIn`).

        Raises:
            StaffSignInRefused: One message for every cause.
        """
        return self.staff_auth().sign_in(email, password, previous_session=previous_session)

    def staff_viewer(self, session_token: str | None) -> Any:
        """The staff member behind a session cookie (`StaffViewer`), or None."""
        return self.staff_auth().viewer(session_token)

    def district_overviews(self, only: str | None = None) -> list[Any]:
        """Every district (or only the one with id `only`) with its last run, next sync and
        open issue count, by display name (`store.admin.DistrictOverview`)."""
        from rostersync.store import admin as store_admin

        with self.engine.connect() as conn:
            found = [d for d in store_districts.list_districts(conn) if only in (None, d.id)]
            ids = [d.id for d in found]
            last = store_admin.last_runs(conn, ids)
            issues = store_admin.open_issue_counts(conn, ids)
        # One read of every schedule, not one per district: the list stays fast with thousands.
        schedules = self.schedule_infos(tuple({d.status for d in found}))
        overviews = []
        for d in sorted(found, key=lambda d: d.display_name):
            # An unschedulable district (paused, no usable answers) has no next sync.
            info = schedules.get(d.id)
            next_sync = info.next_run_utc if info is not None else None
            status, at = last.get(d.id, (None, None))
            overviews.append(
                store_admin.DistrictOverview(
                    district=d,
                    last_run_status=status,
                    last_run_at=at,
                    next_sync_at=next_sync,
                    open_issues=issues.get(d.id, 0),
                )
            )
        return overviews

    def audit_entries(self, slug_or_id: str, *, limit: int = 200) -> list[Any]:
        """A district's most recent audit entries, newest first."""
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return list(store_runs.audit_entries(conn, district.id, limit))

    # --- web: sign-in and portal reads (features add below) ---
    # Each method delegates to rostersync.signin.portal (imported here so the CLI and the job
    # queue load it only when used); the web app calls only these.
    def web_portal(self, relying_party: Any = None) -> Any:
        """The sign-in and home-page operations (`rostersync.signin.portal.Portal`), made once.

        Args:
            relying_party: A `RelyingParty` to use instead of one built from the settings
                (tests and the demo, which point at the ClassLink simulator).
        """
        from rostersync.signin.portal import Portal

        portal = getattr(self, "_web_portal", None)
        if portal is None or relying_party is not None:
            portal = Portal(self.engine, self.settings, relying_party)
            self._web_portal = portal
        return portal

    def sign_in_districts(self) -> list[tuple[str, str]]:
        """(id, display name) of every live district, for the login page's drop-down."""
        return list(self.web_portal().live_districts())

    def begin_sign_in(self, *, district_id: str | None, binding: str, next_path: str = "/") -> str:
        """Start a ClassLink login for a live district; returns ClassLink's authorization URL."""
        return str(
            self.web_portal().begin_sign_in(
                district_id=district_id, binding=binding, next_path=next_path
            )
        )

    def finish_sign_in(
        self, *, code: str, state: str | None, binding: str, previous_session: str | None
    ) -> Any:
        """Complete a ClassLink callback: `SignedIn`, or `Restart` for an unbound callback."""
        return self.web_portal().finish_sign_in(
            code=code, state=state, binding=binding, previous_session=previous_session
        )

    def web_viewer(self, session_token: str | None) -> Any:
        """The signed-in person behind a session cookie, or None."""
        return self.web_portal().viewer(session_token)

    def sign_out(self, session_token: str | None) -> None:
        self.web_portal().sign_out(session_token)

    def web_home(self, viewer: Any) -> Any:
        """A student's or educator's home page data."""
        return self.web_portal().home(viewer)

    def confirm_eligibility(self, viewer: Any, student_id: str, status: str) -> None:
        """An educator confirms a student's eligibility (audited; portal-sourced districts)."""
        self.web_portal().confirm_eligibility(viewer, student_id, status)

    # --- onboarding wizard: drafts, connection test, go-live (features add below) ---
    # The wizard (web/onboarding.py) saves one step at a time. Each save is checked with the same
    # `DistrictSetup.check` as `add_district`, written with its audit row in one transaction (the
    # row names the fields, never a key, secret, name or email), and the audit rows are read back
    # as the wizard's progress, so a half-onboarded district resumes where it stopped.
    def start_onboarding(self, setup: DistrictSetup, actor: str) -> store_districts.DistrictRecord:
        """Create a district from the wizard's questionnaire; its source stays `pending`.

        Args:
            setup: The questionnaire's answers (any source fields are ignored).
            actor: The staff member, for the audit log.

        Raises:
            ConfigError: The answers cannot work, or the slug is malformed or taken.
        """
        import dataclasses
        import re

        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", setup.slug):
            raise ConfigError(
                f"slug {setup.slug!r} must be 1 to 64 lower-case letters, digits or hyphens, "
                "e.g. springfield-il"
            )
        setup.source_kind, setup.source_url, setup.key, setup.secret = (
            PENDING_SOURCE_KIND,
            "",
            "",
            "",
        )
        self._check_onboarding(setup)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            record = store_districts.create_district(
                conn, self.box, **dataclasses.asdict(setup), now=now
            )
            store_workflow.audit(
                conn,
                district_id=record.id,
                run_id=None,
                actor=actor,
                action="onboarding_answers",
                entity_type="district",
                entity_id=record.id,
                changes={"created": True, "source_kind": PENDING_SOURCE_KIND},
                now=now,
            )
        _log.info("onboarding.started", district_id=record.id)
        return record

    def onboarding_answers(self, slug_or_id: str) -> DistrictSetup:
        """A district's current answers as a `DistrictSetup`, without its key and secret."""
        with self.engine.connect() as conn:
            return self._current_setup(conn, slug_or_id, credentials=False)

    def update_onboarding(
        self, slug_or_id: str, actor: str, *, step: str, **answers: Any
    ) -> list[str]:
        """Save the questionnaire or schedule step of the wizard for an existing district.

        The district's answers after the change must pass `DistrictSetup.check` and describe a
        usable schedule; otherwise nothing is written.

        Args:
            slug_or_id: The district.
            actor: The staff member, for the audit log.
            step: "answers" or "schedule" (the audit action is `onboarding_<step>`).
            **answers: `DistrictSetup` fields and their new values (not the slug, source or
                credentials, which have their own steps).

        Returns:
            The names of the fields that changed.

        Raises:
            ConfigError: The answers cannot work, or name a field this step cannot change.
            NotFoundError: No such district.
        """
        if step not in ("answers", "schedule"):
            raise ConfigError(f"onboarding step {step!r} is not 'answers' or 'schedule'")
        fixed = {"slug", "source_kind", "source_url", "key", "secret"} & set(answers)
        if fixed:
            raise ConfigError(
                f"{', '.join(sorted(fixed))} cannot be changed here: the slug is fixed, and the "
                "source and credentials are changed in the wizard's source step"
            )
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            setup = self._current_setup(conn, slug_or_id, credentials=True)
            for name, value in answers.items():
                setattr(setup, name, value)
            self._check_onboarding(setup)
            district = store_districts.get_district(conn, slug_or_id)
            on_district = {
                ("classlink_tenant_id" if k == "tenant_id" else k): v
                for k, v in answers.items()
                if k in ("tenant_id", *store_districts.DISTRICT_FIELDS)
            }
            on_integration = {
                k: v for k, v in answers.items() if k in store_districts.INTEGRATION_FIELDS
            }
            changed = store_districts.update_district(conn, district.id, **on_district)
            changed += store_districts.update_integration(
                conn, district.id, now=now, **on_integration
            )
            changed = sorted(set(changed))
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action=f"onboarding_{step}",
                entity_type="district",
                entity_id=district.id,
                changes={"fields": changed},
                now=now,
            )
        return changed

    def set_onboarding_source(
        self,
        slug_or_id: str,
        actor: str,
        *,
        source_kind: str,
        source_url: str,
        key: str = "",
        secret: str = "",
    ) -> None:
        """Save where a district's roster comes from and its ClassLink key and secret.

        An empty key or secret keeps the one stored (the wizard never shows them again) only
        while the source stays exactly the same: a changed kind, scheme, host, port or path needs
        the secret typed again in the same call, because a stored secret is only ever sent to
        the source it was entered for (decision 0018). Both are stored encrypted and sealed to
        the source; the audit row says only that they were replaced.

        Raises:
            CredentialNotForSource: The source changed and the secret was not typed again.
            ConfigError: Not a ClassLink source kind, or a URL, key or secret is missing.
            NotFoundError: No such district.
        """
        kinds = PROVIDERS.pulling_kinds()
        if source_kind not in kinds:
            raise ConfigError(
                f"source kind {source_kind!r} is not one of {', '.join(kinds)}; a district that "
                "pushes OneRoster files chooses that option instead"
            )
        provider = PROVIDERS.pulling(source_kind)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            setup = self._current_setup(conn, slug_or_id, credentials=True)
            stored = SourceIdentity.of(setup.source_kind, setup.source_url)
            if not provider.needs_url:
                source_url = ""  # e.g. the proxy's address is the vendor's setting
            if not provider.asks_secret:
                # No secret is the district's (the proxy's partner key is the vendor's), and a
                # key stored for another kind means nothing here: a new kind needs its key.
                setup.secret = ""
                if stored.kind != source_kind and not key.strip():
                    raise ConfigError(provider.new_key_needed)
            elif stored != SourceIdentity.of(source_kind, source_url) and not secret.strip():
                raise CredentialNotForSource(
                    f"the source changed ({stored.describe()} before); type the secret again: a "
                    "stored secret is only sent to the source it was entered for"
                )
            setup.source_kind, setup.source_url = source_kind, source_url.strip()
            replaced = [name for name, value in (("key", key), ("secret", secret)) if value]
            setup.key = key.strip() or setup.key
            setup.secret = secret.strip() or setup.secret
            setup.check()
            district = store_districts.get_district(conn, slug_or_id)
            self._replace_source(
                conn,
                district.id,
                setup.source_kind,
                setup.source_url,
                setup.key,
                setup.secret,
                actor=actor,
                now=now,
                changes={
                    "source_kind": setup.source_kind,
                    "source_url": setup.source_url,
                    "credentials_replaced": replaced,
                },
            )

    def _replace_source(
        self,
        conn: Connection,
        district_id: str,
        source_kind: str,
        source_url: str,
        key: str,
        secret: str,
        *,
        actor: str,
        now: datetime,
        changes: dict[str, Any],
    ) -> None:
        """Store a district's source (credentials encrypted) and audit it without the secrets."""
        store_districts.update_credentials(
            conn,
            self.box,
            district_id,
            source_kind=source_kind,
            source_url=source_url,
            key=key,
            secret=secret,
            now=now,
        )
        store_workflow.audit(
            conn,
            district_id=district_id,
            run_id=None,
            actor=actor,
            action="onboarding_source",
            entity_type="integration",
            entity_id=district_id,
            changes=changes,
            now=now,
        )

    def test_onboarding_source(self, slug_or_id: str) -> str:
        """Try a district's stored source: authenticate and read one page of its orgs.

        One request (a page of one org), no retries and a short timeout, so a wrong URL or
        credential answers within seconds; nothing is written.

        Returns:
            What was reached, in a sentence (the host and the first org's name).

        Raises:
            ConfigError: No ClassLink source saved yet, or its URL is unusable.
            SourceAuthError: The source refused the credentials (`.credential` says which).
            SourceError: The source could not be reached or answered something unusable.
        """
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            if integration.source_kind not in PROVIDERS.pulling_kinds():
                raise ConfigError(
                    f"{district.display_name} has no ClassLink source to test yet: choose the "
                    "source and enter its URL, key and secret first"
                )
            key, secret = store_districts.get_credentials(conn, self.box, district.id)
        provider = PROVIDERS.pulling(integration.source_kind)
        outcome = provider.test_connection(integration, key, secret, self.settings)
        _log.info("onboarding.source_tested", district_id=district.id, ok=True)
        return outcome

    def use_push_source(self, slug_or_id: str, actor: str) -> tuple[str, str] | None:
        """Make a district push OneRoster files to us instead of our pulling from ClassLink.

        Returns:
            The push key and secret, shown once; None if the district has its push key already
            (`rotate_onboarding_push` makes a new one).
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            self._replace_source(
                conn,
                district.id,
                PUSH_SOURCE_KIND,
                "",
                "",
                "",
                actor=actor,
                now=now,
                changes={"source_kind": PUSH_SOURCE_KIND},
            )
        try:
            return self.issue_push_credentials(district.slug, actor)
        except ConfigError:
            return None  # it has a push key already: only a rotation shows a new secret

    def rotate_onboarding_push(self, slug_or_id: str, actor: str) -> tuple[str, str]:
        """A new push key and secret for a pushing district, shown once; the old ones stop.

        Raises:
            ConfigError: The district does not push files (choose that source first).
        """
        from rostersync.errors import NotFoundError

        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            kind = store_districts.get_integration(conn, district.id).source_kind
        if kind != PUSH_SOURCE_KIND:
            raise ConfigError(
                f"{district.display_name} does not push OneRoster files: choose that source in "
                "the wizard's source step first"
            )
        try:
            return self.rotate_push_credentials(district.slug, actor)
        except NotFoundError:
            return self.issue_push_credentials(district.slug, actor)

    def set_go_live_date(self, slug_or_id: str, actor: str, when: date) -> None:
        """Let a district's people sign in from `when` on (the scheduler sets it live then).

        Raises:
            ConfigError: The date is already past in the district's time zone.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            if when < _today_in(district.time_zone):
                raise ConfigError(
                    f"the go-live date {when.isoformat()} is already past in "
                    f"{district.time_zone}: choose today or a later date, or go live now"
                )
            store_districts.update_district(conn, district.id, go_live_date=when)
            store_districts.update_integration(conn, district.id, now=now, go_live_date=when)
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="onboarding_go_live",
                entity_type="district",
                entity_id=district.id,
                changes={"go_live_date": when.isoformat()},
                now=now,
            )

    def onboarding_progress(self, slug_or_id: str) -> dict[str, bool]:
        """Which wizard steps a district has done: answers, source, schedule, approved, live."""
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            done = store_districts.onboarding_steps_done(conn, district.id)
            runs = store_runs.list_runs(conn, district.id, 50)
        return {
            "answers": True,
            "source": integration.source_kind != PENDING_SOURCE_KIND,
            "schedule": "onboarding_schedule" in done,
            "approved": any(r.mode == "apply" and r.status == "succeeded" for r in runs),
            "live": district.status == "live",
        }

    def _current_setup(
        self, conn: Connection, slug_or_id: str, *, credentials: bool
    ) -> DistrictSetup:
        district = store_districts.get_district(conn, slug_or_id)
        integration = store_districts.get_integration(conn, district.id)
        key, secret = (
            store_districts.get_credentials(conn, self.box, district.id)
            if credentials
            else ("", "")
        )
        return DistrictSetup(
            slug=district.slug,
            name=district.name,
            display_name=district.display_name,
            city=district.city,
            state=district.state,
            source_url=integration.source_url,
            key=key,
            secret=secret,
            source_kind=integration.source_kind,
            time_zone=district.time_zone,
            tenant_id=district.classlink_tenant_id,
            data_manager_emails=list(integration.data_manager_emails),
            grades_provided=integration.grades_provided,
            unique_emails_provided=integration.unique_emails_provided,
            student_id_field=integration.student_id_field,
            eligibility_source=integration.eligibility_source,
            eligibility_field=integration.eligibility_field,
            sync_frequency=integration.sync_frequency,
            sync_days=list(integration.sync_days),
            sync_interval_days=integration.sync_interval_days,
            sync_time=integration.sync_time,
            go_live_date=district.go_live_date,
        )

    @staticmethod
    def _check_onboarding(setup: DistrictSetup) -> None:
        """`DistrictSetup.check`, plus what a sync would refuse later: the student ID field, the
        time zone and the sync days."""
        from rostersync.domain.schedule import schedule_from_answers

        setup.check()
        try:
            DistrictRules(
                grades_provided=setup.grades_provided,
                unique_emails=setup.unique_emails_provided,
                student_id_field=setup.student_id_field,
                eligibility_source=EligibilitySource(setup.eligibility_source),
                eligibility_field=setup.eligibility_field,
            )
        except ValueError as exc:
            raise ConfigError(f"the district's sync answers are not usable: {exc}") from None
        schedule_from_answers(
            frequency=setup.sync_frequency,
            days=setup.sync_days,
            interval_days=setup.sync_interval_days,
            time_of_day=setup.sync_time,
            time_zone=setup.time_zone,
        )

    # --- push: district push keys, pushed bundles, run progress, upload pages (add below) ---
    # Push credentials are ours to issue: the district sends them as HTTP Basic to
    # `POST /api/v1/districts/<slug>/bundles` (rostersync.web.push); see rostersync.store.push.
    def issue_push_credentials(self, slug: str, actor: str) -> tuple[str, str]:
        """Issue the key and secret a district pushes OneRoster bundles with.

        The secret is returned once and stored only encrypted; show it to the person now.

        Returns:
            (key id, secret).

        Raises:
            NotFoundError: No such district.
            ConfigError: The district already has a push key (rotate it instead).
        """
        return self._push_key(slug, actor, rotate=False)

    def rotate_push_credentials(self, slug: str, actor: str) -> tuple[str, str]:
        """Replace a district's push key and secret; the old ones stop working at once.

        Returns:
            (new key id, new secret), shown once.

        Raises:
            NotFoundError: No such district, or it has no push key yet (issue one first).
        """
        return self._push_key(slug, actor, rotate=True)

    def check_push_credentials(
        self, slug: str, key_id: str, secret: str
    ) -> store_districts.DistrictRecord | None:
        """The district named `slug`, if `key_id` and `secret` are its current push key; else
        None, whatever was wrong (unknown district, unknown key, another district's key, an old
        or wrong secret), so a caller learns nothing about which part failed."""
        from rostersync.errors import NotFoundError
        from rostersync.store import push as store_push

        with self.engine.connect() as conn:
            owner = store_push.district_for(conn, self.box, key_id, secret)
            if owner is None:
                return None
            try:
                district = store_districts.get_district(conn, slug)
            except NotFoundError:
                return None
        return district if district.id == owner else None

    def push_key(self, slug_or_id: str) -> Any:
        """The district's push key id and dates (`store.push.PushKey`), or None; never the
        secret."""
        from rostersync.store import push as store_push

        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_push.get_key(conn, district.id)

    def _push_key(self, slug: str, actor: str, *, rotate: bool) -> tuple[str, str]:
        from rostersync.store import push as store_push

        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            district = store_districts.get_district(conn, slug)
            change = store_push.rotate if rotate else store_push.issue
            key_id, secret = change(conn, self.box, district.id, slug=district.slug, now=now)
            # The key id is public; the secret never reaches the audit log or a log line.
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="push_key_rotated" if rotate else "push_key_issued",
                entity_type="push_credentials",
                entity_id=district.id,
                changes={"key_id": key_id},
                now=now,
            )
        _log.info("push_key.rotated" if rotate else "push_key.issued", district_id=district.id)
        return key_id, secret

    def use_push_queue(self, queue: Any) -> None:
        """Send pushed bundles to this `jobs.queue.JobQueue` (tests and the demo pass one in
        immediate mode) instead of one built on first use by `build_push_queue_with`."""
        self._push_queue = queue

    def build_push_queue_with(self, factory: Callable[[], Any]) -> None:
        """Build the queue for pushed bundles with `factory` on first use. The composition
        point passes one (`cli.common.service`, the demo), so the service never imports the job
        queue itself."""
        self._push_queue_factory = factory

    def accept_pushed_bundle(
        self, slug_or_id: str, upload: Path, *, sha256: str, actor: str
    ) -> Any:
        """Take a bundle a district pushed: check it whole, keep it, and queue its sync.

        The file at `upload` (written by the caller in the district's push folder) is read
        through once: manifest, required files, headers, encodings and row widths. A refused
        bundle is deleted and nothing is recorded; an accepted one is renamed into place
        (`data_dir/pushed/<district id>/<bundle id>.zip`), recorded as queued, and sent to the
        job queue after the commit.

        Only one bundle per district waits at a time: while one is queued or running, another
        push is refused (`BundlePushRefused`), so a retrying client cannot pile up syncs of
        stale files; the district pushes again once the status URL says it finished.

        Args:
            slug_or_id: The district (already authenticated by the caller).
            upload: The received zip, inside `pushed_bundle_dir(district)`.
            sha256: Its SHA-256, hex, computed while it was received.
            actor: Who pushed (the push key id), for the audit log.

        Returns:
            The recorded `store.push.PushedBundle`, as it is after queueing (in immediate
            mode, after its sync).

        Raises:
            BundleError: The bundle is refused; `.file` and `.line` say where.
            BundlePushRefused: A bundle of the district is still queued or running, or the job
                queue cannot be reached.
        """
        from sqlalchemy.exc import IntegrityError

        from rostersync.errors import BundlePushRefused
        from rostersync.oneroster.bundle import Bundle
        from rostersync.store import push as store_push
        from rostersync.store import push_files

        try:
            with self.engine.connect() as conn:
                district = store_districts.get_district(conn, slug_or_id)
                waiting = store_push.unfinished_bundle(conn, district.id)
            if waiting is not None:
                raise BundlePushRefused(
                    f"bundle {waiting.id} of this district is still {waiting.status}; wait until "
                    f"GET /api/v1/districts/{district.slug}/bundles/{waiting.id} says it "
                    "finished, then push again",
                    bundle_id=waiting.id,
                    busy=True,
                )
            with Bundle(upload, limits=self._bundle_limits(), name="the bundle") as bundle:
                for _record in bundle.records():
                    pass
            bundle_id = store_push.new_bundle_id()
            size = upload.stat().st_size
            # Kept encrypted with the key ring (store.push_files, decision 0022).
            folder = self.pushed_bundle_dir(district.id)
            final = push_files.keep(self.box, upload, folder, bundle_id)
        finally:
            upload.unlink(missing_ok=True)
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                store_push.insert_bundle(
                    conn,
                    bundle_id=bundle_id,
                    district_id=district.id,
                    sha256=sha256,
                    size=size,
                    now=now,
                )
                store_workflow.audit(
                    conn,
                    district_id=district.id,
                    run_id=None,
                    actor=actor,
                    action="bundle_pushed",
                    entity_type="pushed_bundle",
                    entity_id=bundle_id,
                    changes={"sha256": sha256, "size": size},
                    now=now,
                )
        except IntegrityError:
            # Another push of this district was accepted meanwhile (one waiting bundle each).
            final.unlink(missing_ok=True)
            with self.engine.connect() as conn:
                other = store_push.unfinished_bundle(conn, district.id)
            raise BundlePushRefused(
                "another bundle of this district was pushed at the same moment and is queued; "
                "wait until it finished, then push again",
                bundle_id=other.id if other is not None else bundle_id,
                busy=True,
            ) from None
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        _log.info("push.accepted", district_id=district.id, bundle_id=bundle_id, size=size)
        try:
            self._push_jobs().enqueue_bundle(bundle_id)
        except Exception as exc:
            with self.engine.begin() as conn:
                store_push.set_status(
                    conn,
                    bundle_id,
                    "failed",
                    now=datetime.now(UTC),
                    error="the job queue could not be reached; push the bundle again",
                )
            _log.error("push.not_queued", bundle_id=bundle_id, error_type=type(exc).__name__)
            raise BundlePushRefused(
                "the bundle was received but could not be queued (the job queue is "
                "unreachable); push it again in a few minutes",
                bundle_id=bundle_id,
                busy=False,
            ) from None
        return self.pushed_bundle(district.id, bundle_id)

    def pushed_bundle(self, slug_or_id: str, bundle_id: str) -> Any:
        """A bundle the district pushed (`store.push.PushedBundle`).

        Raises:
            NotFoundError: No such district, or no such bundle of that district.
        """
        from rostersync.store import push as store_push

        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_push.get_bundle(conn, bundle_id, district_id=district.id)

    def pushed_bundle_dir(self, district_id: str) -> Path:
        """Where a district's pushed bundles are kept (made on first use, owner-only)."""
        from rostersync.store.push_files import district_folder

        return district_folder(self.settings.data_dir, district_id)

    def sync_pushed_bundle(self, bundle_id: str) -> Any:
        """Sync a district from a bundle it pushed (the queue's task); at most once per bundle.

        A bundle that is no longer queued (a duplicate queue message) is left alone. The run's
        outcome becomes the bundle's: succeeded, held or failed.

        Returns:
            The bundle afterwards (`store.push.PushedBundle`).

        Raises:
            SyncInProgress: Another sync of the district is running; the bundle stays queued
                for the caller to retry.
        """
        from rostersync.errors import SyncInProgress
        from rostersync.store import push as store_push
        from rostersync.store import push_files
        from rostersync.sync.bundle_source import BundleSource

        with self.engine.begin() as conn:
            bundle = store_push.get_bundle(conn, bundle_id)
            if not store_push.claim(conn, bundle_id):
                return bundle
        folder = self.pushed_bundle_dir(bundle.district_id)
        stored = push_files.stored(self.box, folder, bundle.id)
        source = BundleSource(stored, limits=self._bundle_limits())
        try:
            report = self.run_sync(bundle.district_id, trigger="push", source=source)
        except SyncInProgress:
            with self.engine.begin() as conn:
                store_push.release(conn, bundle_id)
            raise
        except Exception as exc:
            with self.engine.begin() as conn:
                store_push.set_status(
                    conn,
                    bundle_id,
                    "failed",
                    now=datetime.now(UTC),
                    error=f"the sync stopped unexpectedly ({type(exc).__name__})",
                )
            raise
        finally:
            source.close()  # the clear copy of the sealed bundle goes as soon as the run ends
        status = report.status if report.status in ("succeeded", "held") else "failed"
        with self.engine.begin() as conn:
            store_push.set_status(
                conn,
                bundle_id,
                status,
                now=datetime.now(UTC),
                run_id=report.run_id,
                error=(report.error or report.reason) if status == "failed" else None,
            )
            return store_push.get_bundle(conn, bundle_id)

    def _newest_pushed_source(
        self, conn: Connection, district: store_districts.DistrictRecord
    ) -> RosterSource:
        """A push district's roster: the newest bundle it pushed (for `_resolve`)."""
        from rostersync.store import push as store_push
        from rostersync.store import push_files
        from rostersync.sync.bundle_source import BundleSource

        newest = store_push.newest_bundle(conn, district.id)
        folder = self.settings.data_dir / "pushed" / district.id
        if newest is None or not push_files.has_bundle(folder, newest.id):
            raise ConfigError(
                f"{district.display_name} pushes its roster, and no bundle has been pushed yet "
                "(or its newest was deleted after the retention period); "
                f"push one to POST /api/v1/districts/{district.slug}/bundles"
            )
        stored = push_files.stored(self.box, folder, newest.id)
        return BundleSource(stored, limits=self._bundle_limits())

    def _bundle_limits(self) -> Any:
        from rostersync.sync.bundle_source import limits_for

        return limits_for(self.settings)

    def expire_pushed_bundles(self, *, now: datetime | None = None) -> Any:
        """Delete pushed bundles past `pushed_bundle_retention_days` (`store.push_files`)."""
        from rostersync.store import push_files

        return push_files.expire(
            self.engine,
            self.box,
            self.settings.data_dir,
            retention_days=self.settings.pushed_bundle_retention_days,
            now=now or datetime.now(UTC),
        )

    def _push_jobs(self) -> Any:
        queue = getattr(self, "_push_queue", None)
        if queue is None:
            factory: Callable[[], Any] | None = getattr(self, "_push_queue_factory", None)
            if factory is None:
                raise ConfigError(
                    "this process has no job queue for pushed bundles: serve the portal with "
                    "`rostersync serve`, which connects the queue the settings name"
                )
            queue = factory()
            self._push_queue = queue
        return queue

    # Run progress and background runs for the admin pages, and the import page's row report.
    # A run started from a page runs on a small bounded pool in the web process, so the page
    # returns at once and the person watches the run's recorded progress (store/progress.py).
    # Two at a time: each pull is mostly waiting on ClassLink, and the web process serves pages.
    background_runs = 2

    def run_progress(self, run_id: str) -> Any:
        """A run's last recorded progress (`store.progress.RunProgress`), or None.

        Raises:
            NotFoundError: No such run.
        """
        from rostersync.store import progress as store_progress

        with self.engine.connect() as conn:
            store_runs.get_run(conn, run_id)
            return store_progress.get_progress(conn, run_id)

    def start_run(self, slug_or_id: str, *, mode: str, wait_seconds: float = 0.0) -> str:
        """Start a preview ("preview") or a sync ("apply") in the background; returns its run id.

        Returns once the run holds the district's lock, or once it has ended if that takes at
        most `wait_seconds` (so a small district's page shows the outcome straight away).

        Raises:
            ConfigError: The district cannot be synced (not rostered, no credentials), or
                `mode` is neither "preview" nor "apply".
            SyncInProgress: The district is already syncing, or the pool is full.
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor, wait

        from rostersync.errors import SyncInProgress

        if mode not in ("preview", "apply"):
            raise ConfigError(f"mode {mode!r} must be 'preview' or 'apply'")
        district, rules, source = self._resolve(slug_or_id, None)
        # setdefault is atomic: two first requests at once still share one pool.
        pool, slots = self.__dict__.get("_background") or self.__dict__.setdefault(
            "_background",
            (
                ThreadPoolExecutor(self.background_runs, "background run"),
                threading.BoundedSemaphore(self.background_runs),
            ),
        )
        if not slots.acquire(blocking=False):
            raise SyncInProgress(
                f"the portal is already running {self.background_runs} syncs started from its "
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
                return self._pipeline(
                    district, rules, source, trigger="manual", mode=mode, on_run=on_run
                )
            except BaseException as exc:
                # The run itself is recorded as failed by the pipeline; this says it was ours.
                _log.warning(
                    "run.background_failed", district_id=district.id, error_type=type(exc).__name__
                )
                raise
            finally:
                slots.release()
                holding.set()

        future = pool.submit(run)
        holding.wait()
        if not started:
            skipped: SyncReport = future.result()  # a skipped run, or its refusal raised here
            return skipped.run_id
        wait([future], timeout=wait_seconds)
        return started[0]

    def import_staff_rows(
        self, slug_or_id: str, filename: str, data: bytes, actor: str
    ) -> tuple[staff_import.ImportReport, list[staff_import.SheetRow]]:
        """`import_staff`, and the file's rows, for a report row by row (the upload page).

        Raises:
            SpreadsheetRejected: The file's structure is unusable (nothing was read from it).
            NotFoundError: No such district.
        """
        from rostersync.importing import read_staff_sheet

        report = self.import_staff(slug_or_id, filename, data, actor)
        sheet = read_staff_sheet(filename, data, max_rows=self.settings.import_max_rows)
        return report, sheet.rows

    # --- sign-in for data managers: ClassLink role, invitations, TOTP (features add below) ---
    # The rules live in rostersync.staff.accounts (`StaffAuth`, made once by `staff_auth()`).
    def staff_password_step(
        self, email: str, password: str, *, previous_session: str | None, next_path: str
    ) -> Any:
        """Check a staff email and password: `StaffSignedIn`, or `CodeNeeded` when the account
        uses TOTP (`next_path` is kept with the code step).

        Raises:
            StaffSignInRefused: One message for every cause.
        """
        return self.staff_auth().sign_in(
            email, password, previous_session=previous_session, next_path=next_path
        )

    def staff_code_step(self, step_token: str | None) -> str | None:
        """Where a live TOTP code step continues to, or None when there is none."""
        found: str | None = self.staff_auth().code_step_next(step_token)
        return found

    def staff_sign_in_code(
        self, step_token: str | None, code: str, *, previous_session: str | None
    ) -> Any:
        """Finish a TOTP sign-in: (`StaffSignedIn`, next path).

        Raises:
            StaffCodeRefused: Wrong, reused or late code; counts toward the lockout.
        """
        return self.staff_auth().sign_in_code(step_token, code, previous_session=previous_session)

    def begin_totp(self, viewer: Any) -> Any:
        """A new TOTP secret for the signed-in staff member, shown once (`TotpEnrolment`)."""
        return self.staff_auth().begin_totp(viewer)

    def confirm_totp(self, viewer: Any, code: str) -> None:
        """Turn TOTP on with a code from the person's app (audited)."""
        self.staff_auth().confirm_totp(viewer, code)

    def reset_totp(self, email: str, *, actor: str) -> str:
        """Turn TOTP off and unlock a staff account (vendor staff, audited); returns its id."""
        return str(self.staff_auth().reset_totp(email, actor=actor))

    def invite_data_manager(
        self, district: str, email: str, *, actor: str, sender: Any = None
    ) -> tuple[str, bool]:
        """Email a one-time link to set up a district's data manager account (audited).

        Returns:
            (invitation id, whether the email was sent).
        """
        invitation_id, sent = self.staff_auth().invite(
            district=district, email=email, actor=actor, sender=sender
        )
        return str(invitation_id), bool(sent)

    def staff_invitation(self, token: str) -> Any:
        """What an invitation link offers (`InvitationDetails`), if it can still be used."""
        return self.staff_auth().invitation(token)

    def accept_staff_invitation(
        self,
        token: str,
        *,
        display_name: str,
        password: str,
        password_again: str,
        previous_session: str | None,
    ) -> Any:
        """Use an invitation: make the data manager account and sign it in (`StaffSignedIn`)."""
        return self.staff_auth().accept_invitation(
            token,
            display_name=display_name,
            password=password,
            password_again=password_again,
            previous_session=previous_session,
        )

    # --- privacy: one student's export, a district's purge at contract end ---
    def export_student(self, slug_or_id: str, student: str, *, actor: str) -> dict[str, Any]:
        """Everything held about one student (portal id or sourcedId), for an access request.

        The export itself is audited (who exported whom, never what).

        Raises:
            NotFoundError: No such district, or no such student in it.
        """
        from rostersync.store import privacy

        with self.engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            export = privacy.export_student(conn, district_id=district.id, student=student)
            store_workflow.audit(
                conn,
                district_id=district.id,
                run_id=None,
                actor=actor,
                action="export",
                entity_type="student",
                entity_id=export["student_id"],
                changes=None,
                now=datetime.now(UTC),
            )
        return {"district": district.slug, **export}

    def purge_district(self, slug_or_id: str, *, confirm: str, actor: str, reason: str) -> Any:
        """Remove every trace of a district (contract end, or its written request), in one
        transaction, and keep a disposal record (`store.privacy.Disposal`) of what went.

        Args:
            slug_or_id: The district.
            confirm: The district's slug again, typed by the person: a guard against the wrong
                district.
            actor: Who asked.
            reason: Why (kept in the disposal record).

        Raises:
            ConfigError: `confirm` is not the district's slug; nothing is removed.
            SyncInProgress: A sync of the district is running; purge when it has finished.
        """
        import shutil
        from datetime import timedelta

        from rostersync.store import locks, privacy

        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            if confirm != district.slug:
                raise ConfigError(
                    f"to purge {district.display_name}, confirm with its slug {district.slug!r}; "
                    "nothing was removed"
                )
            # Holding the district's sync lock keeps a sync from writing while its rows go; a
            # dead sync's lock is taken over (store.locks).
            locks.take_for_transaction(
                conn,
                district_id=district.id,
                run_id=f"purge-{now:%Y%m%dT%H%M%S}",
                holder=f"purge by {actor}",
                now=now,
                ttl=timedelta(hours=1),
            )
            folders = [self.settings.data_dir / "pushed" / district.id]
            files = {
                str(folder.name): sum(1 for f in folder.rglob("*") if f.is_file())
                for folder in folders
                if folder.exists()
            }
            disposal = privacy.purge_district(
                conn,
                district_id=district.id,
                actor=actor,
                reason=reason,
                now=now,
                files={"pushed bundles": sum(files.values())},
            )
        # After the commit: a failed purge never loses files whose rows are still there.
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        _log.info("district.purged", district_id=district.id, rows=disposal.total_rows)
        return disposal

    def disposals(self) -> list[Any]:
        """Every district purge ever made, newest first (`store.privacy.Disposal`)."""
        from rostersync.store import privacy

        with self.engine.connect() as conn:
            return privacy.list_disposals(conn)
