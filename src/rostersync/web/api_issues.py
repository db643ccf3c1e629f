"""An open issue as the JSON API answers it (`IssueOut`), built field by field by `issue_out`.

Beside its ClassLink `sourced_id`, an issue carries its record as people know it (`subject`: the
name, role, the district's student ID, grade, school and class code, and the `label` a list
shows, an enrollment as "student in class (code)"), or null for an issue stored before issues
had names. Its message and fix are said for the district's source, as its emails and issues page
say them: a district that pushes files is told to fix the file and push it again, never to
share anything in ClassLink (`domain.issue_groups`).
"""

# No `from __future__ import annotations`: pydantic reads the models' annotations at runtime.
from datetime import datetime

from pydantic import BaseModel

from rostersync.domain.issue_groups import Audience, problem_fix, record_words, source_message
from rostersync.store.runs import IssueRecord

__all__ = ["IssueOut", "IssueSubjectOut", "issue_out"]


class IssueSubjectOut(BaseModel):
    """The record an issue is about, as people know it; a value the roster did not send is ""."""

    label: str
    name: str
    role: str
    student_id: str
    grade: str
    school: str
    class_code: str


class IssueOut(BaseModel):
    """An open validation issue: the record (by ClassLink sourcedId and, when known, as people
    know it), the field, the problem and the fix, in the words of the district's source."""

    entity: str
    sourced_id: str
    subject: IssueSubjectOut | None
    field: str
    code: str
    severity: str
    message: str
    fix: str
    first_seen: datetime


def subject_out(issue: IssueRecord) -> IssueSubjectOut | None:
    """The issue's record as people know it, or None when the issue was stored unnamed."""
    subject = issue.subject
    if subject is None:
        return None
    words = record_words(issue.entity, subject)
    label = f"{words.name} ({words.details})" if words.name and words.details else words.name
    return IssueSubjectOut(
        label=label or words.details,
        name=subject.name,
        role=subject.role,
        student_id=subject.student_id,
        grade=subject.grade,
        school=subject.school,
        class_code=subject.code,
    )


def issue_out(issue: IssueRecord, audience: Audience) -> IssueOut:
    """One stored issue as the API answers it, worded for the district's source."""
    fix = problem_fix(issue.code, [issue.entity], audience, issue.fix)
    return IssueOut(
        entity=issue.entity,
        sourced_id=issue.sourced_id,
        subject=subject_out(issue),
        field=issue.field,
        code=issue.code,
        severity=issue.severity,
        message=source_message(issue.message, audience),
        fix=fix if audience is Audience.FILES else issue.fix,
        first_seen=issue.created_at,
    )
