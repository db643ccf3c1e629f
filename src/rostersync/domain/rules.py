"""The district's onboarding answers, as the rules a sync follows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EligibilitySource(StrEnum):
    """Where a student's eligibility for the service comes from."""

    PORTAL = "portal"  # educators confirm it in the portal; a sync never touches it
    METADATA = "metadata"  # a ClassLink metadata field the district named


@dataclass(frozen=True, slots=True, kw_only=True)
class DistrictRules:
    """Questionnaire answers that change how a district's roster is validated and provisioned.

    `student_id_field` names where the unique student ID lives: `identifier`, `userIds:<type>`
    (e.g. `userIds:StateID`), `metadata.<name>`, or `sourcedId`.
    """

    grades_provided: bool = True
    unique_emails: bool = True
    student_id_field: str = "identifier"
    eligibility_source: EligibilitySource = EligibilitySource.PORTAL
    eligibility_field: str | None = None

    def __post_init__(self) -> None:
        field = self.student_id_field
        if not (
            field in ("identifier", "sourcedId")
            or (field.startswith("userIds:") and len(field) > len("userIds:"))
            or (field.startswith("metadata.") and len(field) > len("metadata."))
        ):
            raise ValueError(
                f"student ID field {field!r} is not one of identifier, sourcedId, "
                "userIds:<type> or metadata.<name>"
            )
        if self.eligibility_source is EligibilitySource.METADATA and not self.eligibility_field:
            raise ValueError("eligibility from a metadata field needs the field's name")
