"""An issue as the API answers it: its record as people know it beside its ClassLink sourcedId,
null when stored unnamed, and its message and fix for the district's source."""

from __future__ import annotations

from datetime import UTC, datetime

from rostersync.domain.issue_groups import Audience
from rostersync.store.runs import IssueRecord
from rostersync.web.api_issues import issue_out

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def stored(**subject: str | None) -> IssueRecord:
    return IssueRecord(
        id="i-1",
        run_id="r-1",
        district_id="d-1",
        entity="enrollment",
        sourced_id="enr-1",
        field="class",
        code="unknown_class",
        severity="error",
        message="Enrollment 'enr-1' points at class 'cls-9', which is not in the roster "
        "ClassLink shared.",
        fix="Share class 'cls-9' with this application in ClassLink.",
        status="open",
        created_at=NOW,
        closed_at=None,
        **{f"subject_{k}": v for k, v in subject.items()},
    )


def test_an_enrollment_carries_its_student_in_class_beside_its_id() -> None:
    out = issue_out(
        stored(name="Ana Ruiz in Algebra I", role="student", student_id="1001", code="ALG1-3"),
        Audience.CLASSLINK,
    )
    assert out.sourced_id == "enr-1" and out.subject is not None
    assert out.subject.label == "Ana Ruiz in Algebra I (ALG1-3) (student, ID 1001)"
    assert (out.subject.student_id, out.subject.class_code) == ("1001", "ALG1-3")
    assert out.fix == "Share class 'cls-9' with this application in ClassLink."


def test_an_issue_stored_unnamed_has_no_subject() -> None:
    assert issue_out(stored(), Audience.CLASSLINK).subject is None


def test_a_district_that_pushes_files_reads_no_classlink() -> None:
    out = issue_out(stored(name="Ana Ruiz"), Audience.FILES)
    assert "ClassLink" not in out.message and "ClassLink" not in out.fix
    assert "classes.csv" in out.fix and "push the files again" in out.fix
    assert out.model_dump()["subject"]["name"] == "Ana Ruiz"
