"""An issue is stored with the record it is about, as people know it, and a later run that
finds it again names it as that run's roster does: in bulk, never a query per issue."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from rostersync.domain.issues import IssueSubject, ValidationIssue
from rostersync.store.districts import DistrictRecord
from rostersync.store.runs import create_run, list_issues
from rostersync.store.workflow import list_open_issues, reconcile_issues

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
ZOE = IssueSubject(name="Zoë Muñoz", role="student", student_id="S1", school="Lincoln ES")


def issue(sid: str, subject: IssueSubject | None) -> ValidationIssue:
    return ValidationIssue(
        entity="student",
        sourced_id=sid,
        field="grades",
        code="missing_grade",
        message=f"Student {sid!r} has no grade.",
        fix="Fill in the grade in the SIS.",
        subject=subject,
    )


def test_subjects_are_stored_read_back_and_renamed_by_a_later_run(
    conn: Connection, district: DistrictRecord, run_id: str
) -> None:
    reconcile_issues(
        conn,
        district_id=district.id,
        run_id=run_id,
        issues=[issue("stu-1", ZOE), issue("stu-2", None)],
        now=T0,
    )
    stored = {i.sourced_id: i for i in list_issues(conn, run_id)}
    assert stored["stu-1"].subject == ZOE
    assert stored["stu-1"].subject_label == "Zoë Muñoz (student, ID S1, Lincoln ES)"
    assert (stored["stu-2"].subject, stored["stu-2"].subject_label) == (None, "")

    later = create_run(
        conn, district_id=district.id, trigger="manual", mode="apply", now=T0 + timedelta(hours=1)
    )
    fixed = replace(ZOE, name="Zoë Muñoz-Ruiz")
    counts = reconcile_issues(
        conn,
        district_id=district.id,
        run_id=later,
        issues=[issue("stu-1", fixed), issue("stu-2", replace(ZOE, name="Ada Reader"))],
        now=T0 + timedelta(hours=1),
    )
    assert counts == {"opened": 0, "kept": 2, "closed": 0}
    names = {i.sourced_id: i.subject_name for i in list_open_issues(conn, district.id)}
    assert names == {"stu-1": "Zoë Muñoz-Ruiz", "stu-2": "Ada Reader"}
