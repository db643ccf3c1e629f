"""Districts: onboarding one from the CLI, reading them, their settings, going live."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy.engine import Connection

from rostersync.domain.questionnaire import Questionnaire
from rostersync.domain.safeguards import PauseWindow, Safeguards
from rostersync.providers import PROVIDERS
from rostersync.scheduling import ScheduleInfo, district_schedule, district_schedules
from rostersync.services.answers import check as answers_check
from rostersync.services.context import ServiceContext
from rostersync.store import admin as store_admin
from rostersync.store import districts as store_districts
from rostersync.store import roster as store_roster
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow


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

    def overviews(self, only: str | None = None) -> list[store_admin.DistrictOverview]:
        """Every district (or only the one with id `only`) with its last run, next sync and
        open issue count, by display name."""
        with self._engine.connect() as conn:
            found = [d for d in store_districts.list_districts(conn) if only in (None, d.id)]
            ids = [d.id for d in found]
            last = store_admin.last_runs(conn, ids)
            issues = store_admin.open_issue_counts(conn, ids)
        # One read of every schedule, not one per district: the list stays fast with thousands.
        schedules = self.schedules(tuple({d.status for d in found}))
        overviews = []
        for d in sorted(found, key=lambda d: d.display_name):
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
