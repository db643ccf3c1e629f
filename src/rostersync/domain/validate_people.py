"""Validating users: the portal account each becomes, and the rules on students and staff.

A source user becomes a `Student` or an `Educator` (`project_person`), or is skipped as a family
member; `validate.validate_roster` then judges the accounts, using `Owners` to find an email or
a student ID used twice and `student_problems` for a student's grade and student ID.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from rostersync.domain.issues import ValidationIssue
from rostersync.domain.records import (
    EDUCATOR_ROLES,
    GRADE_CODES,
    SKIPPED_ROLES,
    STUDENT_ROLES,
    Educator,
    Person,
    Student,
    shared,
)
from rostersync.domain.references import issue as _issue
from rostersync.domain.references import named
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.subjects import person_subject


def student_id_of(person: Person, rules: DistrictRules) -> str:
    """Read the unique student ID from the field the district named in its questionnaire."""
    where = rules.student_id_field
    if where == "identifier":
        return person.identifier.strip()
    if where == "sourcedId":
        return person.sourced_id
    if where.startswith("userIds:"):
        wanted = where.split(":", 1)[1].lower()
        for id_type, value in person.user_ids:
            if id_type.lower() == wanted:
                return value.strip()
        return ""
    return person.metadata.get(where.split(".", 1)[1], "").strip()


def project_person(person: Person, rules: DistrictRules) -> Student | Educator | None:
    """Turn a source user into the portal account it becomes, or None for family members."""
    # Accounts are what a run keeps of its users: values many people repeat (names, school
    # lists, stamps, grades, eligibility) are `shared`; the unique ones are kept as they came.
    common = {
        "sourced_id": person.sourced_id,
        "status": shared(person.status),
        "date_last_modified": shared(person.date_last_modified),
        "username": person.username.strip(),
        "given_name": shared(person.given_name.strip()),
        "family_name": shared(person.family_name.strip()),
        "email": person.email.strip(),
        "school_sourced_ids": shared(person.org_sourced_ids),
        "enabled": person.enabled,
    }
    if person.role in STUDENT_ROLES:
        eligibility_value = None
        if rules.eligibility_source is EligibilitySource.METADATA and rules.eligibility_field:
            eligibility_value = person.metadata.get(rules.eligibility_field)
        return Student(
            **common,  # type: ignore[arg-type]
            student_id=student_id_of(person, rules),
            grade=shared(person.grades[0].strip()) if person.grades else "",
            eligibility_value=shared(eligibility_value),
        )
    if person.role in EDUCATOR_ROLES:
        return Educator(**common, role=person.role)  # type: ignore[arg-type]
    return None


class Owners:
    """Which records use each value (an email, a student ID), to find values used twice.

    A big district has a million values used once each: those cost one dict entry pointing at
    the record's own sourcedId; only values used more than once get a list.
    """

    __slots__ = ("_first", "_more")

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._more: dict[str, list[str]] = {}

    def add(self, value: str, sid: str) -> None:
        first = self._first.setdefault(value, sid)
        if first is not sid:
            self._more.setdefault(value, [first]).append(sid)

    def others(self, value: str, sid: str) -> list[str]:
        """The records other than `sid` that use `value`, in the order they were added."""
        owners = self._more.get(value)
        if owners is None:
            first = self._first.get(value)
            owners = [first] if first is not None else []
        return [o for o in owners if o != sid]


def admit_person(
    person: Person,
    rules: DistrictRules,
    accounts: list[Student | Educator],
    issues: list[ValidationIssue],
    skipped: dict[str, int],
) -> None:
    """Project one user: its account joins `accounts`; a family member is counted as skipped;
    an unknown role is an issue."""
    if person.role in SKIPPED_ROLES:
        skipped[person.role] = skipped.get(person.role, 0) + 1
        return
    account = project_person(person, rules)
    if account is None:
        # Never an account, so named here from the record as sent (schools named later).
        subject = person_subject(person, {}, student_id=student_id_of(person, rules))
        issues.append(
            replace(
                _issue(
                    "user",
                    person.sourced_id,
                    "role",
                    "unknown_role",
                    f"{named(person)} has role {person.role!r}, which is neither a "
                    "student nor a staff role.",
                    "Set the user's role to student, teacher, administrator, aide or another "
                    "OneRoster staff role.",
                ),
                subject=subject,
            )
        )
        return
    accounts.append(account)


def student_problems(
    student: Student, rules: DistrictRules, owners: Owners
) -> Iterable[ValidationIssue]:
    sid = student.sourced_id
    if rules.grades_provided:
        if not student.grade:
            yield _issue(
                "student",
                sid,
                "grades",
                "missing_grade",
                f"{named(student)} has no grade level, and your district said grade levels "
                "are provided.",
                "Set the student's grade in the SIS (a CEDS code such as KG or 05); it is picked "
                "up on the next sync.",
            )
        elif student.grade not in GRADE_CODES:
            yield _issue(
                "student",
                sid,
                "grades",
                "invalid_grade",
                f"{named(student)} has grade {student.grade!r}, which is not a CEDS grade code.",
                "Use a CEDS grade code: KG, 01–12, PK, TK, IT, PR, PS, UG or Other.",
            )
    where = rules.student_id_field
    if not student.student_id:
        yield _issue(
            "student",
            sid,
            where,
            "missing_student_id",
            f"{named(student)} has no student ID in {where}, the field your district chose "
            "for unique student IDs.",
            f"Fill in {where} for the student in the SIS.",
        )
        return
    sharing = owners.others(student.student_id, sid)
    if sharing:
        others = ", ".join(repr(o) for o in sharing[:3])
        yield _issue(
            "student",
            sid,
            where,
            "duplicate_student_id",
            f"{named(student)} has student ID {student.student_id!r}, which is also used "
            f"by {others}.",
            "Student IDs must be unique within the district; correct the duplicate in the SIS.",
        )
