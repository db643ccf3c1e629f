"""Sync runs, their validation issues, the audit log, and the portal's roster reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from rostersync.domain.eligibility import Eligibility, EligibilityStatus
from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.errors import NotFoundError
from rostersync.store.districts import DistrictRecord
from rostersync.store.roster import (
    count_entities,
    list_educators,
    list_students,
)
from rostersync.store.runs import (
    audit_entries,
    create_run,
    finish_run,
    get_run,
    list_issues,
    list_runs,
)
from rostersync.store.tables import audit_log, educators, eligibility, orgs, students
from rostersync.store.workflow import reconcile_issues

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def issue(sid: str, code: str, severity: Severity = Severity.ERROR) -> ValidationIssue:
    return ValidationIssue(
        entity="student",
        sourced_id=sid,
        field="grades",
        code=code,
        message=f"Student {sid!r} has no grade.",
        fix="Fill in the grade in the SIS.",
        severity=severity,
    )


class TestRuns:
    """A run is created running, finished with its counts, and listed newest first."""

    def test_a_run_is_created_running_and_finished(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        run_id = create_run(
            conn, district_id=district.id, trigger="scheduled", mode="apply", now=T0
        )
        run = get_run(conn, run_id)
        assert (run.status, run.trigger, run.mode, run.started_at, run.finished_at) == (
            "running",
            "scheduled",
            "apply",
            T0,
            None,
        )
        counts = {"entities": {"student": {"created": 3}}, "requests": 7, "retries": 1}
        finish_run(
            conn,
            run_id,
            status="succeeded",
            counts=counts,
            error=None,
            now=T0 + timedelta(seconds=5),
        )
        run = get_run(conn, run_id)
        assert (run.status, run.counts, run.error, run.finished_at) == (
            "succeeded",
            counts,
            None,
            T0 + timedelta(seconds=5),
        )

    def test_runs_are_listed_newest_first_and_limited(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        made = [
            create_run(
                conn,
                district_id=district.id,
                trigger="manual",
                mode="apply",
                now=T0 + timedelta(hours=h),
            )
            for h in range(3)
        ]
        assert [r.id for r in list_runs(conn, district.id, 2)] == [made[2], made[1]]

    def test_an_unknown_run_is_not_found(self, conn: Connection) -> None:
        with pytest.raises(NotFoundError, match="rostersync runs"):
            get_run(conn, "no-such-run")
        with pytest.raises(NotFoundError):
            finish_run(conn, "no-such-run", status="failed", counts={}, error="x", now=T0)


class TestIssues:
    """A run's issues are stored in bulk, open, and listed errors first."""

    def test_issues_round_trip_errors_first(
        self, conn: Connection, district: DistrictRecord, run_id: str
    ) -> None:
        reconcile_issues(
            conn,
            run_id=run_id,
            district_id=district.id,
            issues=[
                issue("stu-2", "missing_grade", Severity.WARNING),
                issue("stu-9", "missing_grade"),
                issue("stu-1", "duplicate_email"),
            ],
            now=T0,
        )
        stored = list_issues(conn, run_id)
        assert [(i.sourced_id, i.severity) for i in stored] == [
            ("stu-1", "error"),
            ("stu-9", "error"),
            ("stu-2", "warning"),
        ]
        first = stored[0]
        assert (first.status, first.created_at, first.closed_at, first.district_id) == (
            "open",
            T0,
            None,
            district.id,
        )
        assert (first.entity, first.field, first.code, first.fix) == (
            "student",
            "grades",
            "duplicate_email",
            "Fill in the grade in the SIS.",
        )

    def test_no_issues_writes_nothing(
        self, conn: Connection, district: DistrictRecord, run_id: str
    ) -> None:
        reconcile_issues(conn, run_id=run_id, district_id=district.id, issues=[], now=T0)
        assert list_issues(conn, run_id) == []


class TestAuditEntries:
    """The audit log reads newest first, per district."""

    def test_newest_first(self, conn: Connection, district: DistrictRecord, run_id: str) -> None:
        conn.execute(
            insert(audit_log),
            [
                {
                    "district_id": district.id,
                    "run_id": run_id,
                    "actor": "u-1",
                    "action": a,
                    "entity_type": "student",
                    "entity_id": "s",
                    "changes": None,
                    "at": T0,
                }
                for a in ("create", "update", "deactivate")
            ],
        )
        assert [e.action for e in audit_entries(conn, district.id, 2)] == ["deactivate", "update"]


class TestRosterReads:
    """Pages of students and educators, and counts, as the portal shows them."""

    def _people(self, conn: Connection, district: DistrictRecord) -> None:
        common = {
            "district_id": district.id,
            "content_hash": "h",
            "created_at": T0,
            "updated_at": T0,
        }
        conn.execute(
            insert(orgs),
            [{**common, "id": "o1", "sourced_id": "sch-1", "name": "S", "type": "school"}],
        )
        conn.execute(
            insert(students),
            [
                {
                    **common,
                    "id": f"s{n}",
                    "sourced_id": f"stu-{n}",
                    "username": f"u{n}",
                    "given_name": g,
                    "family_name": f,
                    "email": f"{g}@x",
                    "student_id": f"S{n}",
                    "grade": "05",
                    "school_sourced_ids": ["sch-1"],
                    "school_id": "o1",
                    "active": n != 3,
                }
                for n, g, f in [(1, "Zoe", "Adams"), (2, "Amy", "Baker"), (3, "Al", "Adams")]
            ],
        )
        conn.execute(
            insert(educators),
            [
                {
                    **common,
                    "id": "e1",
                    "sourced_id": "tch-1",
                    "role": "aide",
                    "username": "t",
                    "given_name": "T",
                    "family_name": "T",
                    "email": "t@x",
                    "school_sourced_ids": [],
                }
            ],
        )
        conn.execute(
            insert(eligibility),
            [
                {
                    "student_id": "s1",
                    "district_id": district.id,
                    "status": "eligible",
                    "category": "OPD",
                    "source": "portal",
                    "changed_at": T0,
                    "changed_by": "u-1",
                }
            ],
        )

    def test_students_are_paged_by_name_with_eligibility(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        self._people(conn, district)
        page = list_students(conn, district.id, limit=2)
        assert [(s.given_name, s.family_name, s.eligibility, s.active) for s in page] == [
            ("Al", "Adams", None, False),
            ("Zoe", "Adams", "eligible", True),
        ]
        assert [s.id for s in list_students(conn, district.id, limit=2, offset=2)] == ["s2"]
        stored = conn.execute(
            select(eligibility.c.student_id, eligibility.c.status, eligibility.c.category).where(
                eligibility.c.district_id == district.id
            )
        )
        assert {
            r.student_id: Eligibility(status=EligibilityStatus(r.status), category=r.category)
            for r in stored
        } == {"s1": Eligibility(status=EligibilityStatus.ELIGIBLE, category="OPD")}

    def test_educators_keep_their_role(self, conn: Connection, district: DistrictRecord) -> None:
        self._people(conn, district)
        assert [(e.sourced_id, e.role) for e in list_educators(conn, district.id, limit=10)] == [
            ("tch-1", "aide")
        ]

    def test_counts_are_active_and_inactive_per_table(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        self._people(conn, district)
        counts = count_entities(conn, district.id)
        assert counts["students"] == {"active": 2, "inactive": 1}
        assert counts["educators"] == {"active": 1, "inactive": 0}
        assert counts["enrollments"] == {"active": 0, "inactive": 0}
        assert set(counts) == {
            "orgs",
            "academic_sessions",
            "courses",
            "classes",
            "educators",
            "students",
            "enrollments",
        }
