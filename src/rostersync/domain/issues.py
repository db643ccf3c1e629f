"""Validation issues: what is wrong with a record, where, and how the district fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # the record is not provisioned until it is fixed
    WARNING = "warning"  # the record is provisioned without the bad value


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationIssue:
    """One problem with one source record, in words a district data manager can act on.

    `entity` is the record's kind (`student`, `class`, …), `field` the OneRoster field at fault,
    `code` a stable machine-readable reason (`missing_grade`, `duplicate_email`, …).
    """

    entity: str
    sourced_id: str
    field: str
    code: str
    message: str
    fix: str
    severity: Severity = Severity.ERROR
