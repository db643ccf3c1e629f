"""The one service API. The CLI, the web app and the job queue all call these, nothing else.

`RosterSync` owns the database engine and the secret box for one configuration; every method is
one unit of work in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.domain.rules import EligibilitySource
from rostersync.errors import ConfigError
from rostersync.store import districts as store_districts
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.secrets import SecretBox
from rostersync.sync.pipeline import SyncReport, execute_sync
from rostersync.sync.sources import OneRosterRestSource, Progress, RosterSource

SYNC_FREQUENCIES = ("daily", "weekdays", "weekly", "every_n_days")


@dataclass(slots=True, kw_only=True)
class DistrictSetup:
    """A district's onboarding answers and credentials, as a person fills them in."""

    slug: str
    name: str
    display_name: str
    city: str
    state: str
    source_url: str
    key: str = field(repr=False)
    secret: str = field(repr=False)
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
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            rules = store_districts.rules_for(integration)
            if source is None:
                key, secret = store_districts.get_credentials(conn, self.box, district.id)
                source = OneRosterRestSource(
                    integration.source_url,
                    key,
                    secret,
                    page_size=self.settings.page_size,
                    timeout=self.settings.http_timeout_seconds,
                    max_retries=self.settings.http_max_retries,
                )
        return execute_sync(
            self.engine,
            district_id=district.id,
            rules=rules,
            source=source,
            trigger=trigger,
            progress=progress,
        )

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

    # --- import: roster spreadsheets and hand-made accounts (features add below) ---

    # --- jobs: schedules, queue, notifications (features add below) ---

    # --- web: sign-in and portal reads (features add below) ---
