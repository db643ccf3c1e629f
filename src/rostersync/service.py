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
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy.engine import Connection, Engine

from rostersync.config import Settings
from rostersync.domain import staff_import
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.safeguards import PauseWindow, Safeguards, skip_reason
from rostersync.errors import AccountRejected, ConfigError, ManualRosteringDisabled, RunNotPending
from rostersync.store import accounts as store_accounts
from rostersync.store import delta as store_delta
from rostersync.store import districts as store_districts
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.secrets import SecretBox
from rostersync.sync.delta import execute_delta
from rostersync.sync.pipeline import PENDING, Approval, SyncReport, execute_sync, record_skip
from rostersync.sync.rest_sources import SOURCE_KINDS, build_source
from rostersync.sync.sources import Progress, RosterSource

SYNC_FREQUENCIES = ("daily", "weekdays", "weekly", "every_n_days")
# The district pushes OneRoster CSV bundles to us with the key and secret we issue it.
PUSH_SOURCE_KIND = "oneroster-push"
# Rostered from ClassLink, but the onboarding wizard has not yet been given the credentials.
PENDING_SOURCE_KIND = "pending"
# Kinds that need no source URL, key or secret when the district is created.
_NO_CREDENTIALS = ("none", PUSH_SOURCE_KIND, PENDING_SOURCE_KIND)

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
    source_kind: str = "oneroster-1.1"
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
        kinds = (*SOURCE_KINDS, *_NO_CREDENTIALS)
        if self.source_kind not in kinds:
            raise ConfigError(f"source kind {self.source_kind!r} is not one of {', '.join(kinds)}")
        if self.source_kind not in _NO_CREDENTIALS and not (
            self.source_url and self.key and self.secret
        ):
            raise ConfigError(
                "a district rostered from ClassLink needs its source URL, key and secret; use "
                "source kind 'none' for a district whose accounts are added by hand"
            )
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
        # The data manager hears about every approved sync, as about every scheduled one.
        self.notify_run(report.run_id)
        return report

    def discard_run(self, run_id: str, actor: str) -> store_runs.SyncRunRecord:
        """Discard a previewed or held run; the portal stays exactly as it is.

        Raises:
            NotFoundError: No such run.
            RunNotPending: The run is not waiting for a decision.
        """
        run, _plan = self._pending(run_id)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if not store_workflow.decide_run(
                conn, run_id=run.id, pending=PENDING, status="discarded", actor=actor, now=now
            ):
                raise RunNotPending(f"run {run.id} was decided meanwhile; nothing to discard")
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
                if integration.source_kind == "none":
                    raise ConfigError(
                        f"{district.display_name} is not rostered from ClassLink, so there is "
                        "nothing to sync; its accounts are added by hand or by spreadsheet import"
                    )
                if integration.source_kind == PENDING_SOURCE_KIND:
                    raise ConfigError(
                        f"{district.display_name} has no ClassLink credentials yet; enter its key "
                        "and secret in the onboarding wizard's credentials step, then sync"
                    )
                key, secret = store_districts.get_credentials(conn, self.box, district.id)
                # One place picks the door: OneRoster 1.1 or 1.2 REST, or the ClassLink proxy.
                source = build_source(integration, key, secret, self.settings)
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
    ) -> SyncReport:
        """Run the pipeline with the district's safeguards, honouring its pause window."""
        with self.engine.connect() as conn:
            settings = store_workflow.get_settings(conn, district.id)
        reason = skip_reason(trigger, settings.pause, _today_in(district.time_zone))
        if reason is not None:
            return record_skip(self.engine, district_id=district.id, trigger=trigger, reason=reason)
        return execute_sync(
            self.engine,
            district_id=district.id,
            rules=rules,
            source=source,
            trigger=trigger,
            progress=progress,
            mode=mode,
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
        """A district's schedule in words and its next run (a `jobs.scheduler.ScheduleInfo`).

        Raises:
            NotFoundError: No such district.
            ConfigError: Its answers describe no usable schedule.
        """
        from rostersync.jobs.scheduler import schedule_info
        from rostersync.store import jobs as store_jobs

        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            row = next(
                r
                for r in store_jobs.scheduled_districts(conn, (district.status,))
                if r.id == district.id
            )
            return schedule_info(
                row,
                last_slot=store_jobs.last_slots(conn).get(district.id),
                quarantine_reason=store_jobs.quarantined(conn).get(district.id),
            )

    def schedule_infos(self, statuses: tuple[str, ...]) -> dict[str, Any]:
        """Every district's schedule with one of `statuses`, by district id, read in one pass
        (three queries whatever the number of districts). A district whose answers describe no
        usable schedule is left out."""
        from rostersync.jobs.scheduler import schedule_info
        from rostersync.store import jobs as store_jobs

        with self.engine.connect() as conn:
            rows = store_jobs.scheduled_districts(conn, statuses)
            last = store_jobs.last_slots(conn)
            quarantined = store_jobs.quarantined(conn)
        infos: dict[str, Any] = {}
        for row in rows:
            try:
                infos[row.id] = schedule_info(
                    row, last_slot=last.get(row.id), quarantine_reason=quarantined.get(row.id)
                )
            except (ConfigError, StopIteration):
                continue
        return infos

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
        district, rules, source = self._resolve(slug_or_id, source)
        with self.engine.connect() as conn:
            settings = store_workflow.get_settings(conn, district.id)
        return execute_delta(
            self.engine,
            district_id=district.id,
            rules=rules,
            source=source,
            progress=progress,
            safeguards=settings.safeguards,
            holder=f"{socket.gethostname()} pid {os.getpid()}",
        )

    def delta_watermark(self, slug_or_id: str) -> store_delta.Watermark | None:
        """The district's delta watermark, or None before its first successful sync."""
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            return store_delta.get_watermark(conn, district.id)

    # --- admin: staff sign-in, admin pages, JSON API, push endpoint (features add below) ---
    # Staff accounts live in rostersync.web.staff_auth (imported lazily, like the web section);
    # who may see which district is decided by `StaffViewer.can_see`, in the web layer.
    def staff_auth(self) -> Any:
        """Staff accounts and sign-in (`rostersync.web.staff_auth.StaffAuth`), made once."""
        from rostersync.web.staff_auth import StaffAuth

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
    # Each method delegates to rostersync.web.portal (imported here so the CLI and the job queue
    # never load the web feature); the web app calls only these.
    def web_portal(self, relying_party: Any = None) -> Any:
        """The sign-in and home-page operations (`rostersync.web.portal.Portal`), made once.

        Args:
            relying_party: A `RelyingParty` to use instead of one built from the settings
                (tests and the demo, which point at the ClassLink simulator).
        """
        from rostersync.web.portal import Portal

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

    # --- push: district push keys, pushed bundles, run progress, upload pages (add below) ---

    # --- sign-in for data managers: ClassLink role, invitations, TOTP (features add below) ---
