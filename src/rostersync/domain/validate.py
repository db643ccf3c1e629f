"""Validation: which source records may be provisioned, and why the others may not.

`validate_roster` walks the kinds in dependency order. A record that fails is *held*: it is
neither provisioned nor deactivated, and it gets a `ValidationIssue` that names the record, the
field, what is wrong and how to fix it. Records that merely point at a held record (an enrollment in
a class that failed) are held too but are not issues of their own: the fix is the other record's,
and repeating it for every enrollment would bury the real problem. They are counted, never dropped
silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from enum import Enum

from rostersync.domain.emails import email_problems, normal_email
from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.records import (
    ACTIVE,
    EDUCATOR_ROLES,
    GRADE_CODES,
    SKIPPED_ROLES,
    STUDENT_ROLES,
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
    shared,
)
from rostersync.domain.references import DELETED, Refused, describe, reference, waiting_key
from rostersync.domain.references import POINTS_AT_DELETED as POINTS_AT_DELETED
from rostersync.domain.references import WAITING as WAITING
from rostersync.domain.references import issue as _issue
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.unprovided import course_reference

ORG_TYPES = frozenset({"department", "school", "district", "local", "state", "national"})
SESSION_TYPES = frozenset({"gradingPeriod", "semester", "schoolYear", "term"})
ENROLLMENT_ROLES = frozenset({"administrator", "proctor", "student", "teacher", "aide"})


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

    def add(self, record: Record) -> None:
        """Collect one record; a repeated or missing sourcedId becomes an issue, not a crash."""
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
        if sid in bucket:
            self.issues.append(duplicate_issue(entity, sid))
            return
        if projected and self.rules is not None and isinstance(record, Person):
            self.people_seen.add(sid)
            if record.date_last_modified:
                self.people_stamps.add(record.date_last_modified)
            _admit_person(record, self.rules, self.accounts, self.issues, self.people_skipped)
            return
        getattr(self, attribute)[sid] = record


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


def _admit_person(
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
        issues.append(
            _issue(
                "user",
                person.sourced_id,
                "role",
                "unknown_role",
                f"User {person.sourced_id!r} has role {person.role!r}, which is neither a "
                "student nor a staff role.",
                "Set the user's role to student, teacher, administrator, aide or another "
                "OneRoster staff role.",
            )
        )
        return
    accounts.append(account)


def validate_roster(
    roster: SourceRoster,
    rules: DistrictRules,
    *,
    known: Mapping[EntityKind, Set[str]] | None = None,
    unprovided: Set[EntityKind] = frozenset(),
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

    Returns:
        Valid records per kind (in dependency order), the sourcedIds held back per kind, every
        issue found, and counts of records skipped on purpose (family members, waiting records).
    """
    issues = list(roster.issues)
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
                    f"Course {course.sourced_id!r} has no title.",
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
                    f"Class {sid!r} has no title.",
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
                    f"Class {sid!r} is not in any term.",
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
        _admit_person(person, rules, accounts, issues, skipped)

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
                        f"{label.capitalize()} {sid!r} has no {name}.",
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
                    f"{label.capitalize()} {sid!r} does not belong to any school.",
                    f"Assign the {label} to a school in the SIS.",
                )
            )
        for school in account.school_sourced_ids:
            problems.append(reference(label, sid, "orgs", "school", school, orgs_ok, orgs_held))
        problems.extend(email_problems(label, account, rules, email_owners))
        if isinstance(account, Student):
            problems.extend(_student_problems(account, rules, student_id_owners))
            if not rules.grades_provided and account.grade and account.grade not in GRADE_CODES:
                problems.append(
                    _issue(
                        label,
                        sid,
                        "grades",
                        "invalid_grade",
                        f"Student {sid!r} has grade {account.grade!r}, which is not a CEDS "
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
    )
    for enrollment in roster.enrollments.values():
        verdict, found = judge_enrollment(enrollment, context)
        issues.extend(found)
        if verdict is Verdict.VALID or verdict is Verdict.REMOVAL:
            valid[EntityKind.ENROLLMENT].append(enrollment)
            continue
        held[EntityKind.ENROLLMENT].add(enrollment.sourced_id)
        count_held(skipped, (verdict, found), enrollment, context, details=waiting)

    return ValidatedRoster(
        valid=valid,
        held=held,
        issues=issues,
        skipped=dict(skipped),
        enrollments=context,
        waiting=dict(waiting),
    )


class Verdict(Enum):
    """What validation decided about one enrollment."""

    VALID = "valid"
    # `tobedeleted`: not validated, only acted on.
    REMOVAL = "removal"
    # Failed with an issue of its own.
    HELD = "held"
    # Points at a record that failed: held, counted, but the issue is the other record's.
    WAITING = "waiting"


@dataclass(frozen=True, slots=True)
class EnrollmentContext:
    """The classes and people an enrollment may point at, from the rest of the same pull."""

    classes_ok: Set[str]
    classes_held: Set[str]
    people_known: Set[str]
    people_held: Set[str]
    # Marked `tobedeleted` by this pull: an enrollment in one is told so, not "share it".
    classes_deleted: Set[str] = frozenset()
    people_deleted: Set[str] = frozenset()
    # Held classes and people as people know them (`references.describe`), by sourcedId.
    class_names: Mapping[str, str] = field(default_factory=dict)
    people_names: Mapping[str, str] = field(default_factory=dict)

    def without_people(
        self, blocked: Set[str], names: Mapping[str, str] | None = None
    ) -> EnrollmentContext:
        """The same, with some people held after validation (a matching conflict)."""
        if not blocked:
            return self
        return replace(
            self,
            people_known=set(self.people_known) - blocked,
            people_held=set(self.people_held) | blocked,
            people_names={**self.people_names, **(names or {})},
        )

    def waits_for(self, enrollment: Enrollment) -> list[str]:
        """The held records an enrollment waits for, as people know them (`describe`)."""
        found = []
        if (sid := enrollment.class_sourced_id) and sid in self.classes_held:
            found.append(self.class_names.get(sid) or f"class {sid}")
        if (sid := enrollment.user_sourced_id) and sid in self.people_held:
            found.append(self.people_names.get(sid) or f"user {sid}")
        return found


def count_held(
    skipped: dict[str, int],
    judged: tuple[Verdict, list[ValidationIssue]],
    enrollment: Enrollment,
    context: EnrollmentContext,
    *,
    details: dict[str, int] | None = None,
) -> None:
    """Count a held enrollment in `skipped`: one that waits (under `enrollment_WAITING`, and in
    `details`, `skipped` itself when None, under each record it waits for), or one that points
    at a record the district marked for deletion."""
    verdict, issues = judged
    kind = EntityKind.ENROLLMENT.value
    keys = (
        [f"{kind}_{POINTS_AT_DELETED}"] if any(i.code.startswith(DELETED) for i in issues) else []
    )
    if verdict is Verdict.WAITING:
        keys.append(f"{kind}_{WAITING}")
    for key in keys:
        skipped[key] = skipped.get(key, 0) + 1
    if verdict is Verdict.WAITING:
        into = skipped if details is None else details
        for target in context.waits_for(enrollment):
            key = waiting_key(kind, target)
            into[key] = into.get(key, 0) + 1


def judge_enrollment(
    enrollment: Enrollment, context: EnrollmentContext
) -> tuple[Verdict, list[ValidationIssue]]:
    """Judge one enrollment against the pull's classes and people.

    Used for every enrollment of every pull, also streamed ones (see `sync.enrollments`), so a
    big district's enrollments never have to be held in memory to be validated.
    """
    # Most enrollments are fine; those are accepted without building a list of problems.
    if (
        enrollment.status == ACTIVE
        and enrollment.class_sourced_id
        and enrollment.user_sourced_id
        and enrollment.class_sourced_id in context.classes_ok
        and enrollment.user_sourced_id in context.people_known
        and enrollment.role in ENROLLMENT_ROLES
    ):
        return Verdict.VALID, []
    if enrollment.status != ACTIVE:
        return Verdict.REMOVAL, []
    sid = enrollment.sourced_id
    problems = [
        reference(
            "enrollment",
            sid,
            "class",
            "class",
            enrollment.class_sourced_id,
            context.classes_ok,
            Refused(context.classes_held, context.classes_deleted),
        ),
        reference(
            "enrollment",
            sid,
            "user",
            "user",
            enrollment.user_sourced_id,
            context.people_known,
            Refused(context.people_held, context.people_deleted),
        ),
    ]
    if enrollment.role not in ENROLLMENT_ROLES:
        problems.append(
            _issue(
                "enrollment",
                sid,
                "role",
                "invalid_enrollment_role",
                f"Enrollment {sid!r} has role {enrollment.role!r}.",
                "Use student, teacher, administrator or proctor.",
            )
        )
    real = [p for p in problems if p is not None and p.code != WAITING]
    waiting = any(p is not None and p.code == WAITING for p in problems)
    if waiting and not any(p.severity is Severity.ERROR for p in real):
        return Verdict.WAITING, real
    if any(p.severity is Severity.ERROR for p in real):
        return Verdict.HELD, real
    return Verdict.VALID, real


def _student_problems(
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
                f"Student {sid!r} has no grade level, and your district said grade levels are "
                "provided.",
                "Set the student's grade in the SIS (a CEDS code such as KG or 05); it is picked "
                "up on the next sync.",
            )
        elif student.grade not in GRADE_CODES:
            yield _issue(
                "student",
                sid,
                "grades",
                "invalid_grade",
                f"Student {sid!r} has grade {student.grade!r}, which is not a CEDS grade code.",
                "Use a CEDS grade code: KG, 01–12, PK, TK, IT, PR, PS, UG or Other.",
            )
    where = rules.student_id_field
    if not student.student_id:
        yield _issue(
            "student",
            sid,
            where,
            "missing_student_id",
            f"Student {sid!r} has no student ID in {where}, the field your district chose for "
            "unique student IDs.",
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
            f"Student {sid!r} has student ID {student.student_id!r}, which is also used by "
            f"{others}.",
            "Student IDs must be unique within the district; correct the duplicate in the SIS.",
        )
