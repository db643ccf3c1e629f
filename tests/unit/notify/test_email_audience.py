"""Every run email is worded for the district's source: one that pushes files never reads
"ClassLink"; an issue's record is named before its sourcedId, an enrollment as "student in
class (code)"; the fixes and messages in the attached CSV are the email's."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from tests.unit.notify.test_emails import NOW, District, Issue, Run, issue

from rostersync.domain.issue_groups import (
    PUSHED_SOURCE_KIND,
    Audience,
    audience_for,
    problem_fix,
    record_words,
    source_message,
)
from rostersync.domain.issues import IssueSubject
from rostersync.notify import emails
from rostersync.providers import push

BASE = "https://portal.example/"
TO = ["dm@ogden.example"]


@dataclass
class NamedIssue(Issue):
    subject: IssueSubject | None = None


def unknown_school() -> NamedIssue:
    return NamedIssue(
        entity="student",
        sourced_id="stu-9",
        field="orgs",
        code="unknown_school",
        severity="error",
        message="Student 'stu-9' points at school 'org-1', which is not in the roster ClassLink "
        "shared.",
        fix="Share school 'org-1' with this application in ClassLink, or correct the student's "
        "orgs in the SIS.",
        subject=IssueSubject(name="Ana Ruiz", role="student", student_id="1001", school="org-1"),
    )


def every_email(audience: Audience) -> dict[str, emails.Email]:
    run = Run(counts={"entities": {"student": {"created": 1}}, "skipped": {}})
    held = Run(status="held", counts=run.counts)
    found = [unknown_school(), issue("stu-2")]
    return {
        "summary": emails.summary_email(
            district=District(),
            run=run,
            open_issues=found,
            portal_base_url=BASE,
            to=TO,
            audience=audience,
        ),
        "held": emails.held_email(
            district=District(),
            run=held,
            held_reason="40 deactivations is 65%",
            portal_base_url=BASE,
            to=TO,
            open_issues=found,
            audience=audience,
        ),
        "failed": emails.failed_email(
            district=District(), run=run, attempts=2, portal_base_url=BASE, to=TO, audience=audience
        ),
        "stale": emails.stale_email(
            district=District(),
            run=run,
            newest_change=NOW - timedelta(days=40),
            stale_after_days=30,
            now=NOW,
            portal_base_url=BASE,
            to=TO,
            audience=audience,
        ),
        "quarantined": emails.quarantined_email(
            district=District(),
            run=run,
            failures=5,
            reason="the bundle had no users.csv",
            schedule="daily at 05:00",
            portal_base_url=BASE,
            to=TO,
            audience=audience,
        ),
    }


def csv_rows(email: emails.Email) -> list[list[str]]:
    (attached,) = email.attachments
    return list(csv.reader(io.StringIO(attached.content.decode("utf-8-sig"))))[1:]


def test_the_push_kind_is_the_providers_own() -> None:
    assert PUSHED_SOURCE_KIND == push.KIND
    assert audience_for(push.KIND) is Audience.FILES
    assert audience_for("oneroster-v1p1") is Audience.CLASSLINK


@pytest.mark.parametrize("name", ["summary", "held", "failed", "stale", "quarantined"])
def test_no_email_to_a_district_that_pushes_files_says_classlink(name: str) -> None:
    email = every_email(Audience.FILES)[name]
    for part in (email.subject, email.text, email.html):
        assert "ClassLink" not in part, part
    for row in csv_rows(email) if email.attachments else []:
        assert not [cell for cell in row if "ClassLink" in cell]


@pytest.mark.parametrize("name", ["failed", "stale", "quarantined"])
def test_a_classlink_district_is_still_pointed_at_classlink(name: str) -> None:
    email = every_email(Audience.CLASSLINK)[name]
    assert "ClassLink" in email.text and "ClassLink" in email.html


def test_the_files_fix_and_message_are_in_the_email_and_its_csv() -> None:
    email = every_email(Audience.FILES)["summary"]
    fix = problem_fix("unknown_school", ["student"], Audience.FILES)
    assert "orgs.csv" in fix and fix in email.text and fix in html.unescape(email.html)
    assert "1 student points at a school that is not in the roster" in email.text
    message = "which is not in the files the district pushed"
    assert message in email.text
    (row,) = [r for r in csv_rows(email) if r[1] == "stu-9"]
    assert row[6] == fix and message in row[5]


def test_a_classlink_csv_keeps_the_stored_fix_and_message() -> None:
    email = every_email(Audience.CLASSLINK)["summary"]
    (row,) = [r for r in csv_rows(email) if r[1] == "stu-9"]
    assert (row[5], row[6]) == (unknown_school().message, unknown_school().fix)


def test_the_held_email_groups_the_open_issues_and_attaches_them() -> None:
    email = every_email(Audience.FILES)["held"]
    line = next(ln for ln in email.text.splitlines() if "stu-9" in ln)
    assert line.index("Ana Ruiz") < line.index("1001") < line.index("stu-9")
    assert "Approve" in email.text and len(csv_rows(email)) == 2


def test_an_enrollment_reads_as_student_in_class_with_its_code() -> None:
    enrolled = NamedIssue(
        entity="enrollment",
        sourced_id="enr-1",
        field="role",
        code="invalid_enrollment_role",
        severity="error",
        message="Enrollment 'enr-1' has role 'guest'.",
        fix="Use student in the SIS.",
        subject=IssueSubject(
            name="Ana Ruiz in Algebra I",
            role="student",
            student_id="1001",
            school="Lincoln HS",
            code="ALG1-3",
        ),
    )
    words = record_words("enrollment", enrolled.subject)
    assert (words.name, words.details) == (
        "Ana Ruiz in Algebra I (ALG1-3)",
        "student, ID 1001, Lincoln HS",
    )
    email = emails.summary_email(
        district=District(), run=Run(counts={}), open_issues=[enrolled], portal_base_url=BASE, to=TO
    )
    line = next(ln for ln in email.text.splitlines() if "enr-1" in ln)
    assert line.startswith("  - Ana Ruiz in Algebra I (ALG1-3) (student, ID 1001, Lincoln HS)")
    assert "<strong>Ana Ruiz in Algebra I (ALG1-3)</strong>" in email.html


def test_a_record_with_no_name_is_named_by_its_details_or_not_at_all() -> None:
    assert record_words("class", None) == record_words("student", None)
    assert record_words("class", IssueSubject(code="ALG1-3")).details == "code ALG1-3"
    unnamed = record_words("enrollment", IssueSubject(role="student", code="ALG1-3"))
    assert (unnamed.name, unnamed.details) == ("", "student, code ALG1-3")


def test_a_message_is_reworded_only_for_files() -> None:
    said = "It is not in the roster ClassLink shared."
    assert source_message(said, Audience.CLASSLINK) == said
    assert source_message(said, Audience.FILES) == "It is not in the files the district pushed."


def test_the_held_email_names_what_it_would_deactivate_as_text() -> None:
    email = emails.held_email(
        district=District(),
        run=Run(status="held", counts={}),
        held_reason="students: 18 deactivations is 53%",
        portal_base_url=BASE,
        to=TO,
        deactivations=[
            emails.NamedChange(
                kind="student", sourced_id="stu-2", name="<b>Priya</b>", details="student, ID 2"
            ),
            emails.NamedChange(kind="org", sourced_id="org-9"),
        ],
        deactivation_count=126,
    )
    assert "It would deactivate 126 records; the first 2:" in email.text
    assert "  - <b>Priya</b> (student, ID 2), student stu-2" in email.text
    assert "  - school org-9" in email.text
    assert "<b>Priya</b>" not in email.html and "&lt;b&gt;Priya&lt;/b&gt;" in email.html
