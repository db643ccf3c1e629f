"""A class whose course the source did not provide is added with a warning (decision 0021).

Only a course missing because the source's data set has no courses at all (a bundle whose
manifest marks file.courses absent) is forgiven; a class that names no course, or whose course is
missing from courses that were provided, is held as before.
"""

from __future__ import annotations

from tests import factories as f

from rostersync.domain.issues import Severity
from rostersync.domain.records import EntityKind
from rostersync.domain.rules import DistrictRules
from rostersync.domain.unprovided import COURSE_NOT_PROVIDED
from rostersync.domain.validate import SourceRoster, validate_roster

RULES = DistrictRules()
NO_COURSES = frozenset({EntityKind.COURSE})


def without_courses(**classes: str | None) -> SourceRoster:
    """The small district with no course, its class(es) naming the given course ids."""
    roster = f.small_roster(2)
    roster.courses.clear()
    for sid, course in classes.items():
        roster.classes[sid] = f.klass(sid, course_sourced_id=course)
    return roster


def test_a_class_whose_course_was_not_provided_is_added_with_a_warning() -> None:
    result = validate_roster(without_courses(), RULES, unprovided=NO_COURSES)
    assert [r.sourced_id for r in result.valid[EntityKind.CLASS]] == ["cls-1"]
    assert len(result.valid[EntityKind.ENROLLMENT]) == 3  # the teacher's and two students'
    assert not result.held[EntityKind.CLASS] and not result.held[EntityKind.ENROLLMENT]
    (warning,) = result.issues
    assert (warning.code, warning.severity) == (COURSE_NOT_PROVIDED, Severity.WARNING)
    assert (warning.entity, warning.sourced_id, warning.field) == ("class", "cls-1", "course")
    assert "'crs-1'" in warning.message and "does not include courses" in warning.message
    assert "courses.csv" in warning.fix


def test_the_same_class_is_held_when_the_source_provided_courses() -> None:
    result = validate_roster(without_courses(), RULES)
    assert result.held[EntityKind.CLASS] == {"cls-1"}
    assert [i.code for i in result.issues] == ["unknown_course"]
    assert len(result.held[EntityKind.ENROLLMENT]) == 3


def test_a_class_that_names_no_course_stays_an_error_even_without_courses() -> None:
    roster = without_courses(**{"cls-1": None, "cls-2": ""})
    result = validate_roster(roster, RULES, unprovided=NO_COURSES)
    assert result.held[EntityKind.CLASS] == {"cls-1", "cls-2"}
    assert sorted(i.code for i in result.issues) == ["missing_course", "missing_course"]
    assert all(i.severity is Severity.ERROR for i in result.issues)


def test_only_an_unprovided_kind_is_forgiven() -> None:
    # Courses provided, another kind not: the missing course is still a real gap.
    result = validate_roster(
        without_courses(), RULES, unprovided=frozenset({EntityKind.ACADEMIC_SESSION})
    )
    assert result.held[EntityKind.CLASS] == {"cls-1"}
    assert [i.code for i in result.issues] == ["unknown_course"]


def test_other_references_of_such_a_class_are_still_checked() -> None:
    roster = without_courses()
    roster.classes["cls-1"] = f.klass("cls-1", school_sourced_id="sch-gone")
    result = validate_roster(roster, RULES, unprovided=NO_COURSES)
    assert result.held[EntityKind.CLASS] == {"cls-1"}
    assert sorted(i.code for i in result.issues) == [COURSE_NOT_PROVIDED, "unknown_school"]


def test_a_course_that_is_there_resolves_without_a_warning() -> None:
    result = validate_roster(f.small_roster(2), RULES, unprovided=NO_COURSES)
    assert result.issues == []
    assert [r.sourced_id for r in result.valid[EntityKind.CLASS]] == ["cls-1"]
