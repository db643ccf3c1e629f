"""Validation: which source records may be provisioned, and why the others may not.

`validate_roster` walks the kinds in dependency order. A record that fails is *held*: it is
neither provisioned nor deactivated, and it gets a `ValidationIssue` that names the record, the
field, what is wrong and how to fix it. Records that merely point at a held record (an enrollment in
a class that failed) are held too but are not issues of their own: the fix is the other record's,
and repeating it for every enrollment would bury the real problem. They are counted, never dropped
silently.

The rules per kind of record live beside it: users and the accounts they become in
`validate_people`, enrollments (judged one at a time, also when streamed) in
`validate_enrollments`; their names are importable from here too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Mapping, Set
from dataclasses import dataclass, field, replace

from rostersync.domain.emails import email_problems, normal_email
from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.records import (
    ACTIVE,
    GRADE_CODES,
    AcademicSession,
    Course,
    Educator,
    Enrollment,
    EntityKind,
    Org,
    Person,
    Record,
    SchoolClass,
    Student,
)
from rostersync.domain.references import (
    DELETED,
    Refused,
    describe,
    named,
    reference,
    waiting_key,
)
from rostersync.domain.references import POINTS_AT_DELETED as POINTS_AT_DELETED
from rostersync.domain.references import WAITING as WAITING
from rostersync.domain.references import issue as _issue
from rostersync.domain.rules import DistrictRules
from rostersync.domain.subjects import EnrollmentNamer, PortalNames, name_issues, school_names
from rostersync.domain.unchanged_rows import UnchangedRow
from rostersync.domain.unprovided import course_reference
from rostersync.domain.validate_enrollments import ENROLLMENT_ROLES as ENROLLMENT_ROLES
from rostersync.domain.validate_enrollments import EnrollmentContext as EnrollmentContext
from rostersync.domain.validate_enrollments import Verdict as Verdict
from rostersync.domain.validate_enrollments import count_held as count_held
from rostersync.domain.validate_enrollments import judge_enrollment as judge_enrollment
from rostersync.domain.validate_people import Owners as Owners
from rostersync.domain.validate_people import admit_person, student_problems
from rostersync.domain.validate_people import project_person as project_person
from rostersync.domain.validate_people import student_id_of as student_id_of

ORG_TYPES = frozenset({"department", "school", "district", "local", "state", "national"})
SESSION_TYPES = frozenset({"gradingPeriod", "semester", "schoolYear", "term"})


@dataclass(slots=True)
class SourceRoster:
    """Everything one pull collected, each kind keyed by sourcedId (first occurrence wins)."""

    orgs: dict[str, Org] = field(default_factory=dict)
    sessions: dict[str, AcademicSession] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    classes: dict[str, SchoolClass] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    enrollments: dict[str, Enrollment] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)
    # With `rules`, each person becomes its portal account as it arrives and the source record
    # is not kept (users are most of a big pull's memory): `people` stays empty, `accounts`
    # holds the accounts, `people_seen` every user sourcedId, `people_stamps` their distinct
    # dateLastModified stamps, `people_skipped` the family members by role.
    rules: DistrictRules | None = None
    accounts: list[Student | Educator] = field(default_factory=list)
    people_seen: set[str] = field(default_factory=set)
    people_stamps: set[str] = field(default_factory=set)
    people_skipped: dict[str, int] = field(default_factory=dict)
    # Rows known unchanged (`domain.unchanged_rows`): their sourcedIds per kind, and their
    # distinct dateLastModified stamps. They stand for the portal's records as they are.
    unchanged: dict[EntityKind, set[str]] = field(default_factory=dict)
    unchanged_stamps: set[str] = field(default_factory=set)

    def add(self, record: Record | UnchangedRow) -> None:
        """Collect one record; a repeated or missing sourcedId becomes an issue, not a crash."""
        if type(record) is UnchangedRow:
            self._add_unchanged(record)
            return
        assert not isinstance(record, UnchangedRow)
        # Looked up by exact class first: this runs once per record of the pull (millions).
        found = _BUCKETS.get(type(record))
        if found is None:
            found = next((b for t, b in _BUCKETS.items() if isinstance(record, t)), None)
            if found is None:
                raise TypeError(f"not a source record: {type(record).__name__}")
        attribute, entity = found
        projected = self.rules is not None and attribute == "people"
        bucket: Container[str] = self.people_seen if projected else getattr(self, attribute)
        sid = record.sourced_id
        if not sid:
            self.issues.append(missing_sourced_id_issue(entity))
            return
        if sid in bucket or (
            # A class row known unchanged came first (a user's is in `people_seen`).
            self.unchanged
            and attribute == "classes"
            and sid in self.unchanged.get(EntityKind.CLASS, ())
        ):
            self.issues.append(duplicate_issue(entity, sid))
            return
        if projected and self.rules is not None and isinstance(record, Person):
            self.people_seen.add(sid)
            if record.date_last_modified:
                self.people_stamps.add(record.date_last_modified)
            admit_person(record, self.rules, self.accounts, self.issues, self.people_skipped)
            return
        getattr(self, attribute)[sid] = record

    def _add_unchanged(self, row: UnchangedRow) -> None:
        sid, kind = row.sourced_id, row.kind
        if kind is EntityKind.CLASS:
            if sid in self.classes or sid in self.unchanged.get(kind, ()):
                self.issues.append(duplicate_issue("class", sid))
                return
        else:
            if self.rules is None:
                raise TypeError("an unchanged user row needs a roster given the rules")
            if sid in self.people_seen:
                self.issues.append(duplicate_issue("user", sid))
                return
            self.people_seen.add(sid)
        self.unchanged.setdefault(kind, set()).add(sid)
        if row.date_last_modified:
            self.unchanged_stamps.add(row.date_last_modified)


def missing_sourced_id_issue(entity: str) -> ValidationIssue:
    """The issue of a record that came without a sourcedId (it is dropped)."""
    return _issue(
        entity,
        "",
        "sourcedId",
        "missing_sourced_id",
        f"A {entity} record has no sourcedId, so it cannot be tracked between syncs.",
        "Every record needs a sourcedId; check the export or roster server settings.",
    )


def duplicate_issue(entity: str, sid: str) -> ValidationIssue:
    """The issue of a record whose sourcedId an earlier record of the pull already had."""
    return _issue(
        entity,
        sid,
        "sourcedId",
        "duplicate_sourced_id",
        f"Two {entity} records share the sourcedId {sid!r}; only the first was used.",
        "sourcedIds must be unique; remove or renumber the duplicate in the source.",
    )


# Source record class → (SourceRoster attribute, entity word used in issues).
_BUCKETS: dict[type, tuple[str, str]] = {
    Enrollment: ("enrollments", "enrollment"),
    Person: ("people", "user"),
    SchoolClass: ("classes", "class"),
    Course: ("courses", "course"),
    AcademicSession: ("sessions", "academicSession"),
    Org: ("orgs", "org"),
}


@dataclass(slots=True)
class ValidatedRoster:
    """The outcome of validation: what may be provisioned, what is held, and why."""

    valid: dict[EntityKind, list[Record]]
    held: dict[EntityKind, set[str]]
    issues: list[ValidationIssue]
    skipped: dict[str, int]
    # What an enrollment is judged against, for enrollments validated after the rest (streamed).
    enrollments: EnrollmentContext | None = None
    # Records waiting, per record they wait for (`references.waiting_key`): `skipped` says how
    # many wait, this says for what. Planning counts them among the run's `skipped`.
    waiting: dict[str, int] = field(default_factory=dict)
    # Rows known unchanged, per kind (`SourceRoster.unchanged`): valid, and planned unchanged.
    unchanged: dict[EntityKind, set[str]] = field(default_factory=dict)


def validate_roster(
    roster: SourceRoster,
    rules: DistrictRules,
    *,
    known: Mapping[EntityKind, Set[str]] | None = None,
    unprovided: Set[EntityKind] = frozenset(),
    portal_names: PortalNames | None = None,
) -> ValidatedRoster:
    """Validate a whole pull against the district's rules.

    Args:
        roster: Everything the pull collected.
        rules: The district's questionnaire answers.
        known: For a delta pull, the sourcedIds of active records the portal already holds, per
            kind: a reference to one of them resolves even though the pull did not resend it.
            A known record this pull marks removed or holds does not count. None for a full pull.
        unprovided: Kinds the source did not provide (a bundle's files marked absent): a class
            whose course is not in the pull is then added with a warning (`domain.unprovided`).
        portal_names: Names an enrollment's person or class the pull knew unchanged without
            reading it (`roster.unchanged`), for the enrollment's issues.

    Returns:
        Valid records per kind (in dependency order), the sourcedIds held back per kind, every
        issue found, and counts of records skipped on purpose (family members, waiting records).
    """
    issues = list(roster.issues)
    unchanged = roster.unchanged
    skipped: dict[str, int] = defaultdict(int)
    # Per record waited for (`references.waiting_key`), and how people know each held record.
    waiting: dict[str, int] = defaultdict(int)
    names: dict[EntityKind, dict[str, str]] = {kind: {} for kind in EntityKind}
    valid: dict[EntityKind, list[Record]] = {kind: [] for kind in EntityKind}
    held: dict[EntityKind, set[str]] = {kind: set() for kind in EntityKind}

    problems: list[ValidationIssue | None]

    def resolvable(kind: EntityKind) -> set[str]:
        # Active valid records of this pull, plus (delta) what the portal holds that this pull
        # neither removed nor held.
        ok = {r.sourced_id for r in valid[kind] if r.status == ACTIVE}
        ok |= unchanged.get(kind, set())
        if known:
            ok |= set(known.get(kind, ())) - deleted(kind) - held[kind]
        return ok

    def deleted(kind: EntityKind) -> set[str]:
        # Records this pull marks `tobedeleted`: what points at them is told so, not "share it".
        return {r.sourced_id for r in valid[kind] if r.status != ACTIVE}

    def removal(kind: EntityKind, record: Record) -> bool:
        # A `tobedeleted` record is a removal: its content is not validated, only acted on.
        if record.status != ACTIVE:
            valid[kind].append(record)
            return True
        return False

    def settle(kind: EntityKind, record: Record, problems: list[ValidationIssue | None]) -> None:
        real = [p for p in problems if p is not None and p.code != WAITING]
        if any(p.code.startswith(DELETED) for p in real):
            skipped[f"{kind.value}_{POINTS_AT_DELETED}"] += 1
        waits = [p.message for p in problems if p is not None and p.code == WAITING]
        if waits and not any(p.severity is Severity.ERROR for p in real):
            held[kind].add(record.sourced_id)
            names[kind][record.sourced_id] = describe(record)
            skipped[f"{kind.value}_{WAITING}"] += 1
            for target in waits:
                waiting[waiting_key(kind.value, target)] += 1
            issues.extend(real)
            return
        issues.extend(real)
        if any(p.severity is Severity.ERROR for p in real):
            held[kind].add(record.sourced_id)
            names[kind][record.sourced_id] = describe(record)
        else:
            valid[kind].append(record)

    schools = school_names(roster.orgs.values())

    # Orgs ------------------------------------------------------------------------------------
    for org in roster.orgs.values():
        if removal(EntityKind.ORG, org):
            continue
        problems = []
        if not org.name.strip():
            problems.append(
                _issue(
                    "school",
                    org.sourced_id,
                    "name",
                    "missing_name",
                    f"Organisation {org.sourced_id!r} has no name.",
                    "Give the school or district a name in the SIS; it shows on every account.",
                )
            )
        if org.type not in ORG_TYPES:
            problems.append(
                _issue(
                    "school",
                    org.sourced_id,
                    "type",
                    "invalid_org_type",
                    f"Organisation {org.sourced_id!r} has type {org.type!r}, which OneRoster "
                    "does not define.",
                    "Set the type to school or district (or department, state, national).",
                )
            )
        settle(EntityKind.ORG, org, problems)
    orgs_ok = resolvable(EntityKind.ORG)
    orgs_held = Refused(held[EntityKind.ORG], deleted(EntityKind.ORG), names[EntityKind.ORG])

    # Academic sessions ----------------------------------------------------------------------
    for session in roster.sessions.values():
        if removal(EntityKind.ACADEMIC_SESSION, session):
            continue
        problems = []
        for name, value in (
            ("title", session.title),
            ("startDate", session.start_date),
            ("endDate", session.end_date),
        ):
            if not value.strip():
                problems.append(
                    _issue(
                        "term",
                        session.sourced_id,
                        name,
                        f"missing_{name}",
                        f"Term {session.sourced_id!r} has no {name}.",
                        f"Fill in the term's {name} in the SIS.",
                    )
                )
        if session.type not in SESSION_TYPES:
            problems.append(
                _issue(
                    "term",
                    session.sourced_id,
                    "type",
                    "invalid_session_type",
                    f"Term {session.sourced_id!r} has type {session.type!r}.",
                    "Use schoolYear, semester, term or gradingPeriod.",
                )
            )
        settle(EntityKind.ACADEMIC_SESSION, session, problems)
    sessions_ok = resolvable(EntityKind.ACADEMIC_SESSION)
    sessions_held = Refused(
        held[EntityKind.ACADEMIC_SESSION],
        deleted(EntityKind.ACADEMIC_SESSION),
        names[EntityKind.ACADEMIC_SESSION],
    )

    # Courses --------------------------------------------------------------------------------
    for course in roster.courses.values():
        if removal(EntityKind.COURSE, course):
            continue
        problems = []
        if not course.title.strip():
            problems.append(
                _issue(
                    "course",
                    course.sourced_id,
                    "title",
                    "missing_title",
                    f"{named(course)} has no title.",
                    "Give the course a title in the SIS.",
                )
            )
        problems.append(
            reference(
                "course",
                course.sourced_id,
                "org",
                "school",
                course.org_sourced_id,
                orgs_ok,
                orgs_held,
            )
        )
        settle(EntityKind.COURSE, course, problems)
    courses_ok = resolvable(EntityKind.COURSE)
    courses_held = Refused(
        held[EntityKind.COURSE], deleted(EntityKind.COURSE), names[EntityKind.COURSE]
    )

    # Classes --------------------------------------------------------------------------------
    for klass in roster.classes.values():
        if removal(EntityKind.CLASS, klass):
            continue
        sid = klass.sourced_id
        problems = []
        if not klass.title.strip():
            problems.append(
                _issue(
                    "class",
                    sid,
                    "title",
                    "missing_title",
                    f"{named(klass)} has no title.",
                    "Give the class a title in the SIS; teachers see it.",
                )
            )
        problems.append(course_reference(klass, courses_ok, courses_held, unprovided))
        problems.append(
            reference("class", sid, "school", "school", klass.school_sourced_id, orgs_ok, orgs_held)
        )
        if not klass.term_sourced_ids:
            problems.append(
                _issue(
                    "class",
                    sid,
                    "terms",
                    "missing_term",
                    f"{named(klass)} is not in any term.",
                    "Assign the class to at least one term in the SIS.",
                )
            )
        for term in klass.term_sourced_ids:
            problems.append(
                reference("class", sid, "terms", "term", term, sessions_ok, sessions_held)
            )
        settle(EntityKind.CLASS, klass, problems)
    classes_ok = resolvable(EntityKind.CLASS)
    classes_held = held[EntityKind.CLASS]
    classes_deleted = deleted(EntityKind.CLASS)

    # People ---------------------------------------------------------------------------------
    # (Already done while collecting when the roster was given the rules.)
    accounts: list[Student | Educator] = list(roster.accounts)
    for role, count in roster.people_skipped.items():
        skipped[role] += count
    for person in roster.people.values():
        admit_person(person, rules, accounts, issues, skipped)

    # Uniqueness is judged over every active account in the pull, before any is accepted, so
    # both records of a duplicate pair are held: we cannot know which one is right.
    email_owners, student_id_owners = Owners(), Owners()
    for account in accounts:
        if account.status != ACTIVE:
            continue
        if account.email:
            email_owners.add(normal_email(account.email), account.sourced_id)
        if isinstance(account, Student) and account.student_id:
            student_id_owners.add(account.student_id, account.sourced_id)

    people_known: set[str] = set()
    for account in accounts:
        kind = account.KIND
        if removal(kind, account):
            continue
        sid = account.sourced_id
        label = "student" if kind is EntityKind.STUDENT else "educator"
        problems = []
        for name, value in (
            ("givenName", account.given_name),
            ("familyName", account.family_name),
            ("username", account.username),
        ):
            if not value:
                problems.append(
                    _issue(
                        label,
                        sid,
                        name,
                        f"missing_{name}",
                        f"{named(account)} has no {name}.",
                        f"Fill in the {label}'s {name} in the SIS.",
                    )
                )
        if not account.school_sourced_ids:
            problems.append(
                _issue(
                    label,
                    sid,
                    "orgs",
                    "missing_school",
                    f"{named(account)} does not belong to any school.",
                    f"Assign the {label} to a school in the SIS.",
                )
            )
        for school in account.school_sourced_ids:
            problems.append(reference(label, sid, "orgs", "school", school, orgs_ok, orgs_held))
        problems.extend(email_problems(label, account, rules, email_owners))
        if isinstance(account, Student):
            problems.extend(student_problems(account, rules, student_id_owners))
            if not rules.grades_provided and account.grade and account.grade not in GRADE_CODES:
                problems.append(
                    _issue(
                        label,
                        sid,
                        "grades",
                        "invalid_grade",
                        f"{named(account)} has grade {account.grade!r}, which is not a CEDS "
                        "grade code; the student was added without a grade.",
                        "Use a CEDS grade code: KG, 01–12, PK, TK, IT, PR, PS, UG or Other.",
                        Severity.WARNING,
                    )
                )
        # A warning keeps the record and drops only the bad value.
        warned = {p.field for p in problems if p is not None and p.severity is Severity.WARNING}
        if "email" in warned:
            account = replace(account, email="")
        if "grades" in warned and isinstance(account, Student):
            account = replace(account, grade="")
        settle(kind, account, problems)
        if sid not in held[kind]:
            people_known.add(sid)
    people_held = held[EntityKind.STUDENT] | held[EntityKind.EDUCATOR]
    people_deleted = deleted(EntityKind.STUDENT) | deleted(EntityKind.EDUCATOR)
    del email_owners, student_id_owners
    people_known |= unchanged.get(EntityKind.STUDENT, set())
    people_known |= unchanged.get(EntityKind.EDUCATOR, set())
    if known:
        people_known |= (
            resolvable(EntityKind.STUDENT) | resolvable(EntityKind.EDUCATOR)
        ) - people_held

    # Enrollments ----------------------------------------------------------------------------
    context = EnrollmentContext(
        classes_ok=classes_ok,
        classes_held=classes_held,
        people_known=people_known,
        people_held=people_held,
        classes_deleted=classes_deleted,
        people_deleted=people_deleted,
        class_names=names[EntityKind.CLASS],
        people_names=names[EntityKind.STUDENT] | names[EntityKind.EDUCATOR],
        namer=EnrollmentNamer(accounts, roster.classes, schools, portal_names),
    )
    for enrollment in roster.enrollments.values():
        verdict, found = judge_enrollment(enrollment, context)
        issues.extend(found)
        if verdict is Verdict.VALID or verdict is Verdict.REMOVAL:
            valid[EntityKind.ENROLLMENT].append(enrollment)
            continue
        held[EntityKind.ENROLLMENT].add(enrollment.sourced_id)
        count_held(skipped, (verdict, found), enrollment, context, details=waiting)

    # Every issue names its record as people know it, from what this pull sent.
    issues = name_issues(
        issues,
        people=roster.people,
        accounts=accounts,
        classes=roster.classes,
        others={
            "school": roster.orgs,
            "org": roster.orgs,
            "term": roster.sessions,
            "academicSession": roster.sessions,
            "course": roster.courses,
        },
        enrollments=roster.enrollments,
        schools=schools,
        student_id=lambda person: student_id_of(person, rules),
        portal=portal_names,
    )
    return ValidatedRoster(
        valid=valid,
        held=held,
        issues=issues,
        skipped=dict(skipped),
        enrollments=context,
        waiting=dict(waiting),
        unchanged=unchanged,
    )
