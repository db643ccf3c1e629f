"""Emails: one form to compare them in, and what is wrong with a person's.

Emails are compared trimmed and without case everywhere (validation, matching existing
accounts, the staff import): `Maria.Lopez@Students.example` and `maria.lopez@students.example`
are one address. The district's answer "every email is unique" holds two people with one address;
it does not make an email required, so a person without one is not held.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.records import Educator, Student
from rostersync.domain.references import issue as _issue
from rostersync.domain.references import named
from rostersync.domain.rules import DistrictRules

if TYPE_CHECKING:
    from rostersync.domain.validate import Owners

__all__ = ["email_problems", "normal_email"]


def normal_email(email: str) -> str:
    """An email as every comparison sees it: trimmed and lower-cased."""
    return email.strip().lower()


def email_problems(
    label: str,
    account: Student | Educator,
    rules: DistrictRules,
    owners: Owners,
) -> Iterable[ValidationIssue]:
    sid = account.sourced_id
    severity = Severity.ERROR if rules.unique_emails else Severity.WARNING
    consequence = "" if rules.unique_emails else " It was added without an email."
    if not account.email:
        # "Every email is unique" says nothing about people without one: a missing email is
        # not a duplicate, and no answer of the district makes an email required.
        return
    if "@" not in account.email.strip("@"):
        yield _issue(
            label,
            sid,
            "email",
            "invalid_email",
            f"{named(account)} has email {account.email!r}, which is not an email "
            f"address.{consequence}",
            f"Correct the {label}'s email in the SIS.",
            severity,
        )
        return
    sharing = owners.others(normal_email(account.email), sid)
    if sharing:
        others = ", ".join(repr(o) for o in sharing[:3])
        yield _issue(
            label,
            sid,
            "email",
            "duplicate_email",
            f"{named(account)} has email {account.email!r}, which is also used by "
            f"{others}.{consequence}",
            "Each person needs their own email; correct the duplicate in the SIS.",
            severity,
        )
