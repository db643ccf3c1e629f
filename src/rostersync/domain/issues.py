"""Validation issues: what is wrong with a record, where, and how the district fixes it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # the record is not provisioned until it is fixed
    WARNING = "warning"  # the record is provisioned without the bad value


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueSubject:
    """The record an issue is about, as a person recognises it, from what the roster sent.

    `name` is a person's given and family name, a class's or course's title, a school's name, or
    "student in class" for an enrollment; the other fields are empty when they do not apply or
    were not sent. `school` is the school's name when the same pull had it, else its sourcedId.
    """

    name: str = ""
    role: str = ""
    student_id: str = ""
    grade: str = ""
    school: str = ""
    code: str = ""

    def details(self) -> str:
        """Role, student ID, grade, class code and school, in that order, as one short phrase."""
        parts = [
            self.role,
            f"ID {self.student_id}" if self.student_id else "",
            f"grade {self.grade}" if self.grade else "",
            f"code {self.code}" if self.code else "",
            self.school,
        ]
        return ", ".join(p for p in parts if p)

    def label(self) -> str:
        """The name with its details: `Ada Lovelace (student, ID 1001, grade 05, Lincoln ES)`."""
        details = self.details()
        if not self.name:
            return details
        return f"{self.name} ({details})" if details else self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationIssue:
    """One problem with one source record, in words a district data manager can act on.

    `entity` is the record's kind (`student`, `class`, …), `field` the OneRoster field at fault,
    `code` a stable machine-readable reason (`missing_grade`, `duplicate_email`, …), `subject`
    the record as a person knows it (`IssueSubject`), when the pull had it.
    """

    entity: str
    sourced_id: str
    field: str
    code: str
    message: str
    fix: str
    severity: Severity = Severity.ERROR
    # Display only: two issues that differ only in how their record is named are the same issue.
    subject: IssueSubject | None = dataclasses.field(default=None, compare=False)
