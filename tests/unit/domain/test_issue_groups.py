"""Open issues grouped by problem, counted in plain words, each with one fix in the words of the
district's source: its SIS and ClassLink, or the OneRoster files it pushes."""

from __future__ import annotations

import pytest

from rostersync.domain.issue_groups import (
    Audience,
    IssueFilters,
    ProblemCount,
    grade_order,
    group_problems,
    problem_fix,
    problem_label,
    problem_title,
)


def count(code: str, n: int, entity: str = "student", severity: str = "error") -> ProblemCount:
    return ProblemCount(severity=severity, code=code, entity=entity, count=n, fix=f"stored {code}")


class TestTitles:
    def test_a_count_and_its_problem_agree_in_number(self) -> None:
        assert problem_title("missing_grade", {"student": 12}) == "12 students have no grade"
        assert problem_title("missing_grade", {"student": 1}) == "1 student has no grade"
        assert problem_title("missing_term", {"class": 2}) == "2 classes are not in any term"
        assert (
            problem_title("duplicate_email", {"educator": 1})
            == "1 educator shares an email address with someone else"
        )
        assert (
            problem_title("unknown_class", {"enrollment": 3})
            == "3 enrollments point at a class that is not in the roster"
        )
        assert (
            problem_title("course_not_provided", {"class": 4})
            == "4 classes were added without their course"
        )

    def test_several_kinds_of_people_are_people_counted_per_kind(self) -> None:
        assert (
            problem_title("missing_school", {"student": 5, "educator": 2})
            == "7 people are not in any school (5 students, 2 educators)"
        )
        assert problem_title("missing_title", {"class": 1, "course": 1}).startswith(
            "2 records have no title ("
        )

    def test_large_counts_are_grouped_by_thousands(self) -> None:
        assert problem_title("missing_grade", {"student": 12_345}).startswith("12,345 students")

    def test_an_unknown_problem_is_named_by_its_code(self) -> None:
        assert problem_title("formula_test", {"student": 2}) == "2 students: Formula test"
        assert problem_label("formula_test") == "Formula test"
        assert problem_label("missing_grade") == "No grade"

    def test_an_empty_collection_names_the_kind_not_a_count(self) -> None:
        title = problem_title("empty_collection", {"class": 1})
        assert "sent no classes" in title


class TestFixes:
    """A ClassLink district is told what to change in its SIS or ClassLink; a district that
    pushes files is told to fix the file and push again, never to share it in ClassLink."""

    CODES = (
        "missing_grade",
        "unknown_school",
        "unknown_class",
        "deleted_class",
        "duplicate_student_id",
        "invalid_email",
        "missing_givenName",
        "empty_collection",
        "ambiguous_match",
        "missing_sourced_id",
    )

    @pytest.mark.parametrize("code", CODES)
    def test_a_push_district_fixes_its_files(self, code: str) -> None:
        fix = problem_fix(code, ["student"], Audience.FILES)
        assert "ClassLink" not in fix and "SIS" not in fix
        assert "push" in fix and ".csv" in fix

    @pytest.mark.parametrize("code", CODES)
    def test_a_classlink_district_fixes_its_sis_or_classlink(self, code: str) -> None:
        fix = problem_fix(code, ["student"], Audience.CLASSLINK)
        assert ("SIS" in fix or "ClassLink" in fix) and ".csv" not in fix and "push" not in fix

    def test_the_fix_names_the_file_and_the_record(self) -> None:
        assert problem_fix("unknown_school", ["student"], Audience.FILES) == (
            "Add the school to orgs.csv, or correct the student's school in users.csv; then "
            "push the files again."
        )
        assert problem_fix("unknown_school", ["student"], Audience.CLASSLINK) == (
            "Share the school with this application in ClassLink, or correct the student's "
            "school in the SIS."
        )
        assert "classes.csv" in problem_fix("missing_term", ["class"], Audience.FILES)

    def test_an_unknown_problem_keeps_its_stored_fix(self) -> None:
        assert problem_fix("formula_test", ["student"], Audience.FILES, "as stored") == "as stored"


class TestGroups:
    def test_errors_come_before_warnings_and_larger_groups_first(self) -> None:
        groups = group_problems(
            [
                count("invalid_grade", 40, severity="warning"),
                count("missing_grade", 3),
                count("duplicate_email", 5),
                count("duplicate_email", 2, entity="educator"),
            ],
            Audience.CLASSLINK,
        )
        assert [(g.severity, g.code, g.count) for g in groups] == [
            ("error", "duplicate_email", 7),
            ("error", "missing_grade", 3),
            ("warning", "invalid_grade", 40),
        ]
        assert groups[0].title == (
            "7 people share an email address with someone else (5 students, 2 educators)"
        )

    def test_one_code_of_two_severities_is_two_groups(self) -> None:
        groups = group_problems(
            [count("invalid_email", 2), count("invalid_email", 1, severity="warning")],
            Audience.CLASSLINK,
        )
        assert [(g.severity, g.count) for g in groups] == [("error", 2), ("warning", 1)]

    def test_the_group_fix_follows_the_audience(self) -> None:
        problems = [count("missing_grade", 12)]
        (sis,) = group_problems(problems, Audience.CLASSLINK)
        (files,) = group_problems(problems, Audience.FILES)
        assert sis.title == files.title == "12 students have no grade"
        assert "in the SIS" in sis.fix and "users.csv" in files.fix and sis.fix != files.fix

    def test_an_unknown_problem_keeps_a_stored_fix(self) -> None:
        (group,) = group_problems([count("formula_test", 1)], Audience.FILES)
        assert group.fix == "stored formula_test"


class TestFilters:
    def test_links_carry_only_what_is_set(self) -> None:
        assert IssueFilters().params() == {}
        filters = IssueFilters.of(
            code="missing_grade", school=" Lincoln ES ", search=" 1001 ", sort="name"
        )
        assert filters.params() == {
            "code": "missing_grade",
            "school": "Lincoln ES",
            "sourced_id": "1001",
            "sort": "name",
        }

    def test_changing_a_filter_keeps_the_others(self) -> None:
        filters = IssueFilters.of(grade="05", sort="school")
        assert filters.but(role="student").params() == {
            "grade": "05",
            "role": "student",
            "sort": "school",
        }

    def test_an_unknown_sort_is_the_default(self) -> None:
        filters = IssueFilters.of(sort="evil")
        assert (filters.sort, filters.narrowed) == ("problem", False)

    def test_grades_sort_in_school_order(self) -> None:
        assert sorted(["05", "KG", "12", "PK", "Other", "zz", "01"], key=grade_order) == [
            "PK",
            "KG",
            "01",
            "05",
            "12",
            "Other",
            "zz",
        ]
