"""The stored folded name keys (`store.sort_keys`, migration 0016) follow every write of a name,
and search and the issues list find names whatever their case, beyond ASCII too, on both
databases: a sync that adds a student and one that renames them, a hand-made account, an issue
opened and one whose record's name the roster changed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection
from tests.integration.store.test_statement_count import plan_against_store

from rostersync.domain.issue_groups import Audience, IssueFilters
from rostersync.domain.issues import IssueSubject, Severity, ValidationIssue
from rostersync.domain.records import EntityKind, Record, Student
from rostersync.store import issue_lists, records
from rostersync.store.accounts import NewStudent, insert_student
from rostersync.store.apply import apply_plan
from rostersync.store.districts import DistrictRecord
from rostersync.store.issue_lists import issue_list
from rostersync.store.runs import create_run
from rostersync.store.tables import students, validation_issues
from rostersync.store.workflow import reconcile_issues

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def pupil(sourced_id: str, given: str, family: str) -> Student:
    return Student(
        sourced_id=sourced_id,
        username=sourced_id,
        given_name=given,
        family_name=family,
        email=f"{sourced_id}@springfield.example",
        student_id=sourced_id.upper(),
        grade="05",
        school_sourced_ids=(),
    )


def sync(conn: Connection, district: DistrictRecord, people: list[Record]) -> None:
    plan = plan_against_store(conn, district.id, {EntityKind.STUDENT: people})
    run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
    apply_plan(conn, district_id=district.id, run_id=run_id, plan=plan, actor="sync run", now=NOW)


def found(conn: Connection, district: DistrictRecord, text: str) -> list[str]:
    return sorted(p.name for p in records.search(conn, district.id, text).people.rows)


def held(sid: str, name: str) -> ValidationIssue:
    return ValidationIssue(
        entity="student",
        sourced_id=sid,
        field="email",
        code="missing_email",
        message="No email.",
        fix="Add one.",
        severity=Severity.ERROR,
        subject=IssueSubject(name=name, role="student", school="Gamma HS"),
    )


def test_a_synced_name_is_found_whatever_its_case_and_a_rename_moves_its_key(
    conn: Connection, district: DistrictRecord
) -> None:
    first: list[Record] = [
        pupil("s-1", "Zoë", "MÜLLER"),
        pupil("s-2", "Ana", "Straße"),
        pupil("s-3", "Li", "Wu"),
    ]
    sync(conn, district, first)
    assert found(conn, district, "müller") == ["Zoë MÜLLER"]
    assert found(conn, district, "ZOË müll") == ["Zoë MÜLLER"]
    assert found(conn, district, "STRASSE") == ["Ana Straße"]  # a case fold, not lower()
    assert found(conn, district, "müller wu") == []  # every word must appear
    renamed = replace(pupil("s-1", "Zoë", "MÜLLER"), family_name="Öztürk")
    sync(conn, district, [renamed, *first[1:]])
    assert found(conn, district, "müller") == []
    assert found(conn, district, "ÖZTÜRK") == ["Zoë Öztürk"]
    key = conn.execute(select(students.c.name_key).where(students.c.sourced_id == "s-1"))
    assert key.scalar_one() == "zoë öztürk"


def test_a_hand_made_account_is_found_by_name(conn: Connection, district: DistrictRecord) -> None:
    insert_student(
        conn,
        district_id=district.id,
        account=NewStudent(
            given_name="Ève",
            family_name="Łukasz",
            email="",
            student_id="H-1",
            grade="03",
            school_sourced_id=None,
            school_id=None,
        ),
        actor="staff:test",
        now=NOW,
    )
    assert found(conn, district, "ÈVE łUKASZ") == ["Ève Łukasz"]


def test_a_held_persons_issues_are_found_by_name_before_and_after_a_rename(
    conn: Connection, district: DistrictRecord, run_id: str
) -> None:
    reconcile_issues(
        conn, run_id=run_id, district_id=district.id, issues=[held("h-1", "Åsa NÆSS")], now=NOW
    )
    assert found(conn, district, "åsa næss") == ["Åsa NÆSS"]
    listed = issue_list(
        conn, district.id, IssueFilters.of(search="ÅSA"), audience=Audience.CLASSLINK
    )
    assert [i.subject_name for i in listed.issues] == ["Åsa NÆSS"]
    later = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
    reconcile_issues(
        conn, run_id=later, district_id=district.id, issues=[held("h-1", "Åsa Berg")], now=NOW
    )
    assert found(conn, district, "NÆSS") == []
    assert found(conn, district, "BERG") == ["Åsa Berg"]
    keys = conn.execute(
        select(validation_issues.c.name_sort, validation_issues.c.school_sort).where(
            validation_issues.c.sourced_id == "h-1"
        )
    ).one()
    assert tuple(keys) == ("0åsa berg", "0gamma hs")


def test_an_issue_of_an_unnamed_record_sorts_after_the_named(
    conn: Connection, district: DistrictRecord, run_id: str
) -> None:
    issues = [held("u-1", ""), held("n-1", "zed"), held("n-2", "Adam")]
    reconcile_issues(conn, run_id=run_id, district_id=district.id, issues=issues, now=NOW)
    listed = issue_list(
        conn, district.id, IssueFilters.of(sort="name"), audience=Audience.CLASSLINK
    )
    assert [i.sourced_id for i in listed.issues] == ["n-2", "n-1", "u-1"]


def test_a_search_that_finds_many_issues_lists_the_same_as_one_that_finds_few(
    conn: Connection, district: DistrictRecord, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `FOUND_BY_ID` issues a search is kept as a condition instead of a list of ids."""
    issues = [held(f"m-{n}", f"Mårten {n}") for n in range(5)] + [held("o-1", "Other")]
    reconcile_issues(conn, run_id=run_id, district_id=district.id, issues=issues, now=NOW)
    wanted = IssueFilters.of(search="MÅRTEN", sort="name")

    def listed() -> tuple[list[str], int]:
        found = issue_list(conn, district.id, wanted, audience=Audience.CLASSLINK, size=3)
        return [i.sourced_id for i in found.issues], found.window.total

    assert listed() == (["m-0", "m-1", "m-2"], 5)
    monkeypatch.setattr(issue_lists, "FOUND_BY_ID", 2)
    assert listed() == (["m-0", "m-1", "m-2"], 5)
