"""The CLI's issue tables name each record as people know it, first, then its kind and ClassLink
sourcedId; any name is shown exactly (never as markup), and the table still fits 80 columns."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import example, given, settings
from rich.console import Console
from tests.unit.cli.cases import shown, values

from rostersync.cli import render
from rostersync.domain.issues import IssueSubject, Severity, ValidationIssue

ISSUE = ValidationIssue(
    entity="student",
    sourced_id="stu-000068",
    field="grades",
    code="missing_grade",
    message="Student 'stu-000068' has no grade level.",
    fix="Set the student's grade in the SIS.",
    severity=Severity.ERROR,
    subject=IssueSubject(
        name="Zoë Muñoz", role="student", student_id="S000068", school="Lincoln K-8 School"
    ),
)


def at_80(issue: ValidationIssue) -> str:
    console = Console(width=80, markup=False, emoji=False, highlight=False, record=True)
    with console.capture() as capture:
        console.print(render.issues_table([issue]))
    return shown(capture.get())


def test_the_name_comes_first_then_the_classlink_id_within_80_columns() -> None:
    out = at_80(ISSUE)
    assert max(len(line) for line in out.splitlines()) <= 80
    record = " ".join(line.split("│")[1].strip() for line in out.splitlines() if "│" in line)
    assert record.index("Zoë Muñoz") < record.index("S000068") < record.index("stu-000068")
    assert "Lincoln K-8" in record


def test_an_issue_without_a_subject_shows_as_before() -> None:
    out = at_80(replace(ISSUE, subject=None))
    assert "stu-000068" in out and "Zoë" not in out


@settings(deadline=None)
@given(values)
@example("[red]Ann")
@example("\x1b[2J")
def test_any_name_is_shown_exactly(value: str) -> None:
    issue = replace(ISSUE, subject=IssueSubject(name=value, school=value))
    with render.console.capture() as capture:
        render.console.print(render.issues_table([issue]))
    out = shown(capture.get())
    assert "stu-000068" in out
