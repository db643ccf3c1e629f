"""Applying a district-sized plan takes a bounded number of statements, never one per record.

10,000 students, 300 educators and ~60,000 enrollments are written, then a second plan updates,
restores and deactivates thousands of them. Statements are counted at the cursor (an executemany
counts once); the bound does not grow with the number of records, only with ceil(rows / CHUNK).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection

from rostersync.domain.eligibility import Eligibility, EligibilityChange, EligibilityStatus
from rostersync.domain.plan import SyncPlan, plan_entity
from rostersync.domain.records import (
    AcademicSession,
    Course,
    Educator,
    Enrollment,
    EntityKind,
    Org,
    Record,
    SchoolClass,
    Student,
)
from rostersync.store import apply as store_apply
from rostersync.store.apply import apply_plan
from rostersync.store.districts import DistrictRecord
from rostersync.store.roster import load_index
from rostersync.store.runs import create_run
from rostersync.store.tables import audit_log, eligibility, enrollments, students

STUDENTS, EDUCATORS, SCHOOLS, CLASSES, CLASSES_PER_STUDENT = 10_000, 300, 20, 300, 6
# Measured: 9 statements for the first plan, 12 for each later one, on both databases.
MAX_STATEMENTS = 50
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def district_roster() -> dict[EntityKind, list[Record]]:
    schools = [
        Org(sourced_id=f"sch-{i}", name=f"School {i}", type="school") for i in range(SCHOOLS)
    ]
    courses = [
        Course(
            sourced_id=f"crs-{i}", title=f"Course {i}", course_code=f"C{i}", org_sourced_id="sch-0"
        )
        for i in range(50)
    ]
    classes = [
        SchoolClass(
            sourced_id=f"cls-{i}",
            title=f"Class {i}",
            class_code=f"K{i}",
            class_type="scheduled",
            course_sourced_id=f"crs-{i % 50}",
            school_sourced_id=f"sch-{i % SCHOOLS}",
            term_sourced_ids=("term-1",),
        )
        for i in range(CLASSES)
    ]
    teachers = [
        Educator(
            sourced_id=f"tch-{i}",
            role="teacher",
            username=f"t{i}",
            given_name="Grace",
            family_name=f"Teacher{i}",
            email=f"t{i}@springfield.example",
            school_sourced_ids=(f"sch-{i % SCHOOLS}",),
        )
        for i in range(EDUCATORS)
    ]
    pupils = [
        Student(
            sourced_id=f"stu-{i}",
            username=f"s{i}",
            given_name="Ada",
            family_name=f"Reader{i}",
            email=f"s{i}@springfield.example",
            student_id=f"S{i:06d}",
            grade="05",
            school_sourced_ids=(f"sch-{i % SCHOOLS}",),
        )
        for i in range(STUDENTS)
    ]
    places = [
        Enrollment(
            sourced_id=f"enr-{i}-{j}",
            class_sourced_id=f"cls-{(i + j * 50) % CLASSES}",
            school_sourced_id=f"sch-{i % SCHOOLS}",
            user_sourced_id=f"stu-{i}",
            role="student",
        )
        for i in range(STUDENTS)
        for j in range(CLASSES_PER_STUDENT)
    ] + [
        Enrollment(
            sourced_id=f"enr-t{i}",
            class_sourced_id=f"cls-{i}",
            school_sourced_id=f"sch-{i % SCHOOLS}",
            user_sourced_id=f"tch-{i}",
            role="teacher",
            primary=True,
        )
        for i in range(EDUCATORS)
    ]
    term = AcademicSession(
        sourced_id="term-1",
        title="Fall",
        type="semester",
        start_date="2026-08-15",
        end_date="2026-12-20",
        school_year="2027",
    )
    return {
        EntityKind.ORG: list(schools),
        EntityKind.ACADEMIC_SESSION: [term],
        EntityKind.COURSE: list(courses),
        EntityKind.CLASS: list(classes),
        EntityKind.EDUCATOR: list(teachers),
        EntityKind.STUDENT: list(pupils),
        EntityKind.ENROLLMENT: list(places),
    }


def with_changes_and_leavers(
    roster: dict[EntityKind, list[Record]],
) -> dict[EntityKind, list[Record]]:
    """The roster a second sync pulls: 2,000 students change grade; 1,000 leave, with their
    6,000 enrollments."""
    pupils = [p for p in roster[EntityKind.STUDENT] if isinstance(p, Student)]
    left = {p.sourced_id for p in pupils[-1000:]}
    students: list[Record] = [
        replace(p, grade="06") if i < 2000 else p
        for i, p in enumerate(pupils)
        if p.sourced_id not in left
    ]
    places: list[Record] = [
        e
        for e in roster[EntityKind.ENROLLMENT]
        if isinstance(e, Enrollment) and e.user_sourced_id not in left
    ]
    return {**roster, EntityKind.STUDENT: students, EntityKind.ENROLLMENT: places}


@contextmanager
def counting(conn: Connection) -> Iterator[list[str]]:
    """Collects every statement sent to the driver on `conn` (an executemany counts once)."""
    statements: list[str] = []

    def record(_c: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(conn, "before_cursor_execute", record)


def plan_against_store(
    conn: Connection, district_id: str, roster: dict[EntityKind, list[Record]]
) -> SyncPlan:
    return SyncPlan(
        entities={
            kind: plan_entity(kind, records, load_index(conn, district_id, kind), complete=True)
            for kind, records in roster.items()
        }
    )


def apply_first_plan(
    conn: Connection, district: DistrictRecord, roster: dict[EntityKind, list[Record]]
) -> list[str]:
    """A first sync's plan, every new student unconfirmed, applied; the statements it sent."""
    plan = plan_against_store(conn, district.id, roster)
    plan.eligibility = [
        EligibilityChange(
            student_id=w.id,
            before=None,
            after=Eligibility(status=EligibilityStatus.UNCONFIRMED),
            source="portal",
        )
        for w in plan.entities[EntityKind.STUDENT].creates
    ]
    run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
    with counting(conn) as sent:
        apply_plan(
            conn, district_id=district.id, run_id=run_id, plan=plan, actor="sync run", now=NOW
        )
    return sent


def test_a_district_sized_plan_takes_a_bounded_number_of_statements(
    conn: Connection, district: DistrictRecord
) -> None:
    if conn.dialect.name == "postgresql":
        # psycopg 3 sends an executemany as one pipeline, not a round trip per row.
        assert psycopg.Pipeline.is_supported()
    roster = district_roster()
    first = apply_first_plan(conn, district, roster)

    enrollment_count = STUDENTS * CLASSES_PER_STUDENT + EDUCATORS
    assert conn.execute(select(func.count()).select_from(enrollments)).scalar() == enrollment_count
    assert conn.execute(select(func.count()).select_from(students)).scalar() == STUDENTS
    assert len(first) < MAX_STATEMENTS, first

    second = plan_against_store(conn, district.id, with_changes_and_leavers(roster))
    assert second.entities[EntityKind.STUDENT].counts()["updated"] == 2000
    assert len(second.entities[EntityKind.ENROLLMENT].deactivations) == 6000
    run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
    with counting(conn) as later:
        apply_plan(
            conn, district_id=district.id, run_id=run_id, plan=second, actor="sync run", now=NOW
        )
    assert len(later) < MAX_STATEMENTS, later

    # Third sync: everyone is back as at first.
    roster = district_roster()
    third = plan_against_store(conn, district.id, roster)
    assert third.entities[EntityKind.ENROLLMENT].counts()["restored"] == 6000
    run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
    with counting(conn) as restoring:
        apply_plan(
            conn,
            district_id=district.id,
            run_id=run_id,
            plan=third,
            actor="sync run",
            now=NOW + timedelta(days=1),
        )
    assert len(restoring) < MAX_STATEMENTS, restoring
    audited = conn.execute(
        select(func.count()).select_from(audit_log).where(audit_log.c.run_id == run_id)
    ).scalar()
    # 2,000 grades back to 05 + 1,000 students and 6,000 enrollments restored.
    assert audited == 2000 + 1000 + 6000


def test_eligibility_and_its_audit_rows_are_written_a_chunk_at_a_time(
    conn: Connection, district: DistrictRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first sync sets every student's eligibility; at a million students these rows must not
    # all be built at once. With chunks of 3,000, 10,000 changes take 4 inserts, none lost.
    monkeypatch.setattr(store_apply, "WRITE_CHUNK", 3000)
    sent = apply_first_plan(conn, district, district_roster())
    # An INSERT on SQLite, a COPY on PostgreSQL (`store.bulk`).
    loads = ("INSERT INTO eligibility", "COPY eligibility")
    assert sum(1 for s in sent if s.startswith(loads)) == 4
    assert conn.execute(select(func.count()).select_from(eligibility)).scalar() == STUDENTS
    audited = select(func.count()).where(audit_log.c.action == "eligibility")
    assert conn.execute(audited).scalar() == STUDENTS
