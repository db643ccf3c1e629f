"""The record an issue is about, as a person recognises it (`IssueSubject`).

A broken record is named from what the roster sent, also when it failed validation and was
never provisioned: a person by given and family name, role, the district's student ID, grade and
school; a class by title, code and school; an enrollment as "student in class". A school is named
by the pull's own orgs when it has them, else by its sourcedId.

Subjects are looked up only for the records that have an issue, after validation
(`name_issues`), or as an enrollment is judged (`EnrollmentNamer`), so a clean record costs
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from rostersync.domain.issues import IssueSubject, ValidationIssue
from rostersync.domain.records import (
    STUDENT_ROLES,
    AcademicSession,
    Course,
    Educator,
    Enrollment,
    Org,
    Person,
    SchoolClass,
    Student,
)

__all__ = [
    "EnrollmentNamer",
    "PortalNames",
    "account_subject",
    "class_subject",
    "class_subject_of",
    "enrollment_subject",
    "name_issues",
    "person_subject",
    "school_names",
]

PEOPLE_ENTITIES = frozenset({"student", "educator", "user"})


def school_names(orgs: Iterable[Org]) -> dict[str, str]:
    """The pull's schools (and other orgs) by sourcedId, those that have a name."""
    return {org.sourced_id: org.name.strip() for org in orgs if org.name.strip()}


def _school(sourced_ids: Sequence[str] | str | None, schools: Mapping[str, str]) -> str:
    if isinstance(sourced_ids, str) or sourced_ids is None:
        first = sourced_ids or ""
    else:
        first = next((s for s in sourced_ids if s), "")
    return schools.get(first, first)


def full_name(given: str, family: str) -> str:
    """Given and family name, as one."""
    return " ".join(p for p in (given.strip(), family.strip()) if p)


def person_subject(
    person: Person | Student | Educator,
    schools: Mapping[str, str],
    *,
    student_id: str = "",
) -> IssueSubject:
    """A user as the roster sent it. `student_id` is read by the caller for a source `Person`
    (from the field the district named); an account already carries its own."""
    if isinstance(person, Student):
        return account_subject(
            given_name=person.given_name,
            family_name=person.family_name,
            role="student",
            school_sourced_ids=person.school_sourced_ids,
            schools=schools,
            student_id=person.student_id,
            grade=person.grade,
        )
    if isinstance(person, Educator):
        return account_subject(
            given_name=person.given_name,
            family_name=person.family_name,
            role=person.role,
            school_sourced_ids=person.school_sourced_ids,
            schools=schools,
        )
    return account_subject(
        given_name=person.given_name,
        family_name=person.family_name,
        role=person.role.strip(),
        school_sourced_ids=person.org_sourced_ids,
        schools=schools,
        student_id=student_id if person.role in STUDENT_ROLES else "",
        grade=person.grades[0].strip() if person.grades else "",
    )


def account_subject(
    *,
    given_name: str,
    family_name: str,
    role: str,
    school_sourced_ids: Sequence[str],
    schools: Mapping[str, str],
    student_id: str = "",
    grade: str = "",
) -> IssueSubject:
    """A person by name, role, student ID, grade and first school, from a pull's record or the
    portal's account."""
    return IssueSubject(
        name=full_name(given_name, family_name),
        role=role,
        student_id=student_id,
        grade=grade,
        school=_school(school_sourced_ids, schools),
    )


def class_subject(klass: SchoolClass, schools: Mapping[str, str]) -> IssueSubject:
    """A class by title, class code and school."""
    return class_subject_of(
        title=klass.title,
        class_code=klass.class_code,
        school_sourced_id=klass.school_sourced_id,
        schools=schools,
    )


def class_subject_of(
    *, title: str, class_code: str, school_sourced_id: str | None, schools: Mapping[str, str]
) -> IssueSubject:
    """A class by title, class code and school, from a pull's record or the portal's class."""
    return IssueSubject(
        name=title.strip(), code=class_code.strip(), school=_school(school_sourced_id, schools)
    )


def enrollment_subject(
    enrollment: Enrollment,
    person: IssueSubject | None,
    klass: IssueSubject | None,
) -> IssueSubject:
    """An enrollment as "student in class" when both are known, else whichever is."""
    who = person.name if person is not None else ""
    where = klass.name if klass is not None else ""
    name = f"{who} in {where}" if who and where else who or where
    school = (klass.school if klass is not None else "") or (
        person.school if person is not None else ""
    )
    return IssueSubject(
        name=name,
        role=enrollment.role.strip(),
        student_id=person.student_id if person is not None else "",
        grade=person.grade if person is not None else "",
        school=school or enrollment.school_sourced_id,
        code=klass.code if klass is not None else "",
    )


class PortalNames(Protocol):
    """People and classes as the portal holds them, for those a pull knew unchanged from their
    rows without reading them (`domain.unchanged_rows`)."""

    def person(self, sourced_id: str) -> IssueSubject | None: ...

    def school_class(self, sourced_id: str) -> IssueSubject | None: ...


class EnrollmentNamer:
    """Names an enrollment from its pull's people and classes, for an enrollment with an issue.

    Enrollments are judged one at a time, also streamed, long after the people were read; the
    people are indexed by sourcedId the first time an enrollment needs one, never before. A
    person or class the pull knew unchanged without reading it is named as the portal holds it
    (`portal`).
    """

    __slots__ = ("_accounts", "_classes", "_index", "_portal", "_schools")

    def __init__(
        self,
        accounts: Sequence[Student | Educator],
        classes: Mapping[str, SchoolClass],
        schools: Mapping[str, str],
        portal: PortalNames | None = None,
    ) -> None:
        self._accounts = accounts
        self._classes = classes
        self._schools = schools
        self._portal = portal
        self._index: dict[str, Student | Educator] | None = None

    def person(self, sourced_id: str) -> IssueSubject | None:
        """The pull's account with this sourcedId, as a subject, or None."""
        if self._index is None:
            self._index = {a.sourced_id: a for a in self._accounts}
        account = self._index.get(sourced_id)
        if account is None:
            return None if self._portal is None else self._portal.person(sourced_id)
        return person_subject(account, self._schools)

    def __call__(self, enrollment: Enrollment) -> IssueSubject:
        klass = self._classes.get(enrollment.class_sourced_id)
        if klass is not None:
            where: IssueSubject | None = class_subject(klass, self._schools)
        elif self._portal is not None:
            where = self._portal.school_class(enrollment.class_sourced_id)
        else:
            where = None
        return enrollment_subject(enrollment, self.person(enrollment.user_sourced_id), where)


def _other_subject(
    record: Org | AcademicSession | Course, schools: Mapping[str, str]
) -> IssueSubject:
    if isinstance(record, Org):
        return IssueSubject(name=record.name.strip())
    if isinstance(record, Course):
        return IssueSubject(
            name=record.title.strip(),
            code=record.course_code.strip(),
            school=_school(record.org_sourced_id, schools),
        )
    return IssueSubject(name=record.title.strip())


def name_issues(
    issues: Sequence[ValidationIssue],
    *,
    people: Mapping[str, Person],
    accounts: Sequence[Student | Educator],
    classes: Mapping[str, SchoolClass],
    others: Mapping[str, Mapping[str, Org | AcademicSession | Course]],
    enrollments: Mapping[str, Enrollment],
    schools: Mapping[str, str],
    student_id: Callable[[Person], str],
    portal: PortalNames | None = None,
) -> list[ValidationIssue]:
    """Each issue with its subject, from the records of its pull.

    `others` holds the orgs, terms and courses by the entity word their issues use. An issue
    that already has a subject keeps it, with its school named when the pull had the school.
    A person or class the pull knew unchanged without reading it is named by `portal`.
    """
    namer = EnrollmentNamer(accounts, classes, schools, portal)
    # Accounts indexed only for the people with an issue, not the whole district.
    wanted = {i.sourced_id for i in issues if i.subject is None and i.entity in PEOPLE_ENTITIES}
    found = {a.sourced_id: a for a in accounts if a.sourced_id in wanted}
    named: list[ValidationIssue] = []
    for issue in issues:
        subject = issue.subject
        sid = issue.sourced_id
        if subject is not None:
            school = schools.get(subject.school)
            if school:
                subject = replace(subject, school=school)
        elif not sid:
            pass
        elif issue.entity in PEOPLE_ENTITIES:
            account = found.get(sid)
            person = people.get(sid)
            if account is not None:
                subject = person_subject(account, schools)
            elif person is not None:
                subject = person_subject(person, schools, student_id=student_id(person))
            elif portal is not None:
                subject = portal.person(sid)
        elif issue.entity == "class" and sid in classes:
            subject = class_subject(classes[sid], schools)
        elif issue.entity == "class" and portal is not None:
            subject = portal.school_class(sid)
        elif issue.entity == "enrollment" and sid in enrollments:
            subject = namer(enrollments[sid])
        elif sid in others.get(issue.entity, {}):
            subject = _other_subject(others[issue.entity][sid], schools)
        named.append(issue if subject is issue.subject else replace(issue, subject=subject))
    return named
