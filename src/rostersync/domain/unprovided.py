"""References into a kind the source did not provide (decision 0021).

A OneRoster CSV bundle may mark a file `absent` in its manifest: the data set says nothing about
that kind. A class still names its course (`courseSourcedId` is required), and when the bundle
does not include courses that reference cannot be checked against anything. Such a class is
provisioned, with a warning that says how to link it; a class that names no course, or whose
course is missing from courses the source *did* provide, stays an error.
"""

from __future__ import annotations

from collections.abc import Set

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.domain.records import EntityKind, SchoolClass
from rostersync.domain.references import Refused, issue, reference

__all__ = ["COURSE_NOT_PROVIDED", "course_reference"]

COURSE_NOT_PROVIDED = "course_not_provided"


def course_reference(
    klass: SchoolClass, ok: Set[str], refused: Refused, unprovided: Set[EntityKind]
) -> ValidationIssue | None:
    """None when the class's course resolves; otherwise its issue (see `reference`), which is
    the warning `course_not_provided` when the course is simply not in the source's data set."""
    sid, target = klass.sourced_id, klass.course_sourced_id
    found = reference("class", sid, "course", "course", target, ok, refused)
    if found is None or EntityKind.COURSE not in unprovided or found.code != "unknown_course":
        return found
    return issue(
        "class",
        sid,
        "course",
        COURSE_NOT_PROVIDED,
        f"Class {sid!r} names course {target!r}, and this bundle does not include courses (its "
        "manifest marks file.courses absent); the class was added without a course.",
        "Include courses.csv in the bundle (file.courses bulk in manifest.csv) to link classes "
        "to their courses; nothing else needs to change.",
        Severity.WARNING,
    )
