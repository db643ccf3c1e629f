"""Eligibility for the service, and when a sync may change it.

A district either confirms eligibility in the portal (a sync never touches it) or sends it in a
ClassLink metadata field. Values RD (reading deficit), BVI (blind or visually impaired), OPD (other
physical disability) or `true` make a student eligible in that category; any other value makes them
not eligible; a missing field leaves eligibility as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from sys import intern

from rostersync.domain.rules import DistrictRules, EligibilitySource


class EligibilityStatus(StrEnum):
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    UNCONFIRMED = "unconfirmed"


CATEGORIES = {"RD": "RD", "BVI": "BVI", "OPD": "OPD", "TRUE": None}


@dataclass(frozen=True, slots=True, kw_only=True)
class Eligibility:
    status: EligibilityStatus
    category: str | None = None


@cache
def eligibility(status: EligibilityStatus, category: str | None = None) -> Eligibility:
    """The one shared `Eligibility` of a status and category.

    A big district plans and loads one per student (a million), with only a handful of distinct
    values: sharing them keeps that to a reference each.
    """
    return Eligibility(status=status, category=category)


@dataclass(frozen=True, slots=True, kw_only=True)
class EligibilityChange:
    """A planned change to one student's eligibility, with where it came from."""

    student_id: str  # portal id
    before: Eligibility | None
    after: Eligibility
    source: str


def eligibility_from_value(value: str | None) -> Eligibility | None:
    """Read a metadata value; None when the field is absent (leave eligibility unchanged)."""
    if value is None:
        return None
    token = value.strip().upper()
    if token == "":
        return None
    if token in CATEGORIES:
        return eligibility(EligibilityStatus.ELIGIBLE, CATEGORIES[token])
    return eligibility(EligibilityStatus.NOT_ELIGIBLE)


def plan_eligibility(
    rules: DistrictRules, student_id: str, current: Eligibility | None, value: str | None
) -> EligibilityChange | None:
    """Decide whether a sync changes one student's eligibility, and to what.

    A new student (no `current`) starts unconfirmed when the portal is the source. An existing
    student's eligibility changes only when the district's source is a metadata field, and only
    when that field is present.
    """
    if rules.eligibility_source is EligibilitySource.PORTAL:
        if current is None:
            return EligibilityChange(
                student_id=student_id,
                before=None,
                after=eligibility(EligibilityStatus.UNCONFIRMED),
                source="portal",
            )
        return None
    wanted = eligibility_from_value(value)
    source = intern(f"metadata.{rules.eligibility_field}")
    if wanted is None:
        if current is None:
            wanted = eligibility(EligibilityStatus.UNCONFIRMED)
        else:
            return None
    if wanted == current:
        return None
    return EligibilityChange(student_id=student_id, before=current, after=wanted, source=source)
