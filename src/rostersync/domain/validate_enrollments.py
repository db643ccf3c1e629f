"""Validating enrollments: each judged alone against the classes and people of its pull.

`judge_enrollment` is used for every enrollment of every pull, also streamed ones (see
`sync.enrollments`), so a big district's enrollments never have to be held in memory to be
validated. An enrollment that points at a held class or person waits: it is counted with the
record it waits for (`count_held`), never an issue of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field, replace
from enum import Enum

from rostersync.domain.issues import IssueSubject, Severity, ValidationIssue
from rostersync.domain.records import ACTIVE, Enrollment, EntityKind
from rostersync.domain.references import (
    DELETED,
    POINTS_AT_DELETED,
    WAITING,
    Refused,
    reference,
    waiting_key,
)
from rostersync.domain.references import issue as _issue

ENROLLMENT_ROLES = frozenset({"administrator", "proctor", "student", "teacher", "aide"})


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
    # Names an enrollment with an issue as "student in class" (`subjects.EnrollmentNamer`).
    namer: Callable[[Enrollment], IssueSubject] | None = field(default=None, compare=False)

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
    if real and context.namer is not None:
        subject = context.namer(enrollment)
        real = [replace(p, subject=subject) for p in real]
    waiting = any(p is not None and p.code == WAITING for p in problems)
    if waiting and not any(p.severity is Severity.ERROR for p in real):
        return Verdict.WAITING, real
    if any(p.severity is Severity.ERROR for p in real):
        return Verdict.HELD, real
    return Verdict.VALID, real
