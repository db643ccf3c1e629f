"""The CLI's issue tables say each fix for the district's source, as its emails and issues page
do: a district that pushes files is told which file to fix and to push again, never to share
anything in ClassLink; an enrollment is named "student in class (code)" before its sourcedId."""

from __future__ import annotations

from rich.console import Console
from tests.unit.cli.cases import shown

from rostersync.cli import render
from rostersync.domain.issue_groups import Audience
from rostersync.domain.issues import IssueSubject, Severity, ValidationIssue

UNKNOWN_SCHOOL = ValidationIssue(
    entity="student",
    sourced_id="stu-000009",
    field="orgs",
    code="unknown_school",
    message="Student 'stu-000009' points at school 'org-9001', which is not in the roster "
    "ClassLink shared.",
    fix="Share school 'org-9001' with this application in ClassLink, or correct the student's "
    "orgs in the SIS.",
    severity=Severity.ERROR,
    subject=IssueSubject(name="Amelia Patel", role="student", student_id="S000009"),
)
ENROLLMENT = ValidationIssue(
    entity="enrollment",
    sourced_id="enr-0000281",
    field="role",
    code="invalid_enrollment_role",
    message="Enrollment 'enr-0000281' has role 'guest'.",
    fix="Use student, teacher, administrator or proctor as the enrollment's role in the SIS.",
    severity=Severity.ERROR,
    subject=IssueSubject(
        name="Ana Ruiz in Algebra I", role="student", student_id="1001", code="ALG1-3"
    ),
)


def table(issue: ValidationIssue, audience: Audience) -> str:
    console = Console(width=600, markup=False, emoji=False, highlight=False, record=True)
    with console.capture() as capture:
        console.print(render.issues_table([issue], audience=audience))
    return " ".join(shown(capture.get()).split())


def record(issue: ValidationIssue) -> str:
    """The table's Record column, its lines joined."""
    console = Console(width=200, markup=False, emoji=False, highlight=False, record=True)
    with console.capture() as capture:
        console.print(render.issues_table([issue]))
    rows = [ln.split("│")[1].strip() for ln in shown(capture.get()).splitlines() if "│" in ln]
    return " ".join(r for r in rows if r)


def test_a_district_that_pushes_files_is_told_to_fix_the_file() -> None:
    out = table(UNKNOWN_SCHOOL, Audience.FILES)
    assert "ClassLink" not in out
    assert "Add the school to orgs.csv" in out and "push the files again" in out
    assert "not in the files the district pushed" in out


def test_a_classlink_district_reads_the_stored_fix() -> None:
    out = table(UNKNOWN_SCHOOL, Audience.CLASSLINK)
    assert "with this application in ClassLink" in out and "orgs.csv" not in out


def test_an_enrollment_is_a_student_in_a_class_before_its_id() -> None:
    out = record(ENROLLMENT)
    assert out.index("Ana Ruiz in Algebra I (ALG1-3)") < out.index("ID 1001")
    assert out.index("ID 1001") < out.index("enr-0000281")
    assert "code ALG1-3" not in out
