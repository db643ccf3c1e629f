"""Staff import rules: columns, row errors by row and column, and which districts are rostered."""

from __future__ import annotations

from typing import Any

from rostersync.domain.staff_import import (
    REQUIRED_COLUMNS,
    STAFF_ROLES,
    RowError,
    SheetRow,
    check_columns,
    check_grade,
    check_person,
    is_rostered,
    school_lookup,
    validate_staff_rows,
)

SCHOOLS = school_lookup([("id-101", "org-101", "0101"), ("id-102", "org-102", "0102")])


def row(n: int, **cells: Any) -> SheetRow:
    values = {
        "first_name": "Jordan",
        "last_name": "Rivera",
        "email": f"person{n}@springfield.example",
        "role": "librarian",
        "school_identifier_or_sourced_id": "0101",
        "staff_id": "",
    }
    values.update(cells)
    return SheetRow(row=n, cells=values)


def errors_of(rows: list[SheetRow], **kw: Any) -> list[tuple[int, str]]:
    kw.setdefault("emails_in_use", set())
    _, errors = validate_staff_rows(rows, schools=SCHOOLS, **kw)
    return [(e.row, e.column) for e in errors]


class TestColumns:
    """The header must name every required column once, in any order, and nothing else."""

    def test_the_template_header_in_any_order_and_case_is_accepted(self) -> None:
        header = [c.upper().replace("_", " ") for c in reversed(REQUIRED_COLUMNS)]
        assert check_columns(["\ufeff" + header[0], *header[1:], "Staff ID", "", ""]) == []

    def test_a_missing_column_is_named(self) -> None:
        problems = check_columns(
            ["first_name", "last_name", "role", "school_identifier_or_sourced_id"]
        )
        assert len(problems) == 1 and "no email column" in problems[0]

    def test_an_unknown_column_is_named_with_the_allowed_ones(self) -> None:
        problems = check_columns([*REQUIRED_COLUMNS, "emial"])
        assert "emial" in problems[0] and "allowed: first_name" in problems[0]

    def test_a_repeated_column_is_named(self) -> None:
        problems = check_columns([*REQUIRED_COLUMNS, "email"])
        assert problems == ["the header row names email more than once; keep one of each column"]


class TestRowErrors:
    """Every problem is reported with its row (as Excel numbers it) and column, with a fix."""

    def test_valid_rows_become_accounts_with_their_school_and_lower_case_role(self) -> None:
        accounts, errors = validate_staff_rows(
            [row(2, role=" Coach "), row(3, school_identifier_or_sourced_id="org-102")],
            schools=SCHOOLS,
            emails_in_use=set(),
        )
        assert errors == []
        assert [(a.row, a.role, a.school.id if a.school else None) for a in accounts] == [
            (2, "coach", "id-101"),
            (3, "librarian", "id-102"),
        ]

    def test_each_kind_of_row_error_names_its_row_and_column(self) -> None:
        rows = [
            row(2, first_name=" "),
            row(3, email="not an email"),
            row(4, email="Same@Springfield.example"),
            row(5, email=" same@springfield.example "),
            row(6, email="taken@springfield.example"),
            row(7, school_identifier_or_sourced_id="9999"),
            row(8, role="janitor"),
            row(9),
        ]
        assert errors_of(rows, emails_in_use={"taken@springfield.example"}) == [
            (2, "first_name"),
            (3, "email"),
            (5, "email"),
            (6, "email"),
            (7, "school_identifier_or_sourced_id"),
            (8, "role"),
        ]

    def test_a_repeated_email_points_at_the_first_row_that_has_it(self) -> None:
        _, errors = validate_staff_rows(
            [row(2, email="a@x.org"), row(9, email="A@X.org")], schools=SCHOOLS, emails_in_use=()
        )
        assert errors == [
            RowError(
                row=9,
                column="email",
                problem="the same email is already on row 2",
                fix="each person once: delete the repeated row or correct one of the emails",
            )
        ]

    def test_one_row_may_have_several_errors(self) -> None:
        assert errors_of([row(4, last_name="", role="", school_identifier_or_sourced_id="")]) == [
            (4, "last_name"),
            (4, "role"),
            (4, "school_identifier_or_sourced_id"),
        ]

    def test_teachers_are_refused_in_a_rostered_district_and_taken_elsewhere(self) -> None:
        _, errors = validate_staff_rows([row(2, role="teacher")], schools=SCHOOLS, emails_in_use=())
        assert "come from ClassLink" in errors[0].problem
        assert errors_of([row(2, role="teacher")], allow_teachers=True) == []

    def test_a_blank_school_is_allowed_only_when_the_district_has_no_schools(self) -> None:
        accounts, errors = validate_staff_rows(
            [row(2, school_identifier_or_sourced_id="")], schools={}, emails_in_use=()
        )
        assert errors == [] and accounts[0].school is None

    def test_a_formula_without_a_saved_value_is_an_error_in_its_cell(self) -> None:
        formula_row = SheetRow(row=3, cells={**row(3).cells, "email": ""}, formulas=("email",))
        _, errors = validate_staff_rows([formula_row], schools=SCHOOLS, emails_in_use=())
        assert [(e.row, e.column) for e in errors] == [(3, "email")]
        assert "formula" in errors[0].problem

    def test_the_roles_are_the_documented_list(self) -> None:
        assert STAFF_ROLES == (
            "librarian",
            "paraprofessional",
            "coach",
            "counselor",
            "aide",
            "administrator",
            "other",
        )
        assert errors_of([row(n, role=r) for n, r in enumerate(STAFF_ROLES, start=2)]) == []


class TestSchoolsAndRostering:
    """Schools are named by sourcedId or identifier; only source kind "none" is unrostered."""

    def test_an_identifier_shared_by_two_schools_is_ambiguous(self) -> None:
        lookup = school_lookup([("a", "org-1", "X"), ("b", "org-2", "x")])
        assert lookup["x"] is None and lookup["org-1"] is not None
        _, errors = validate_staff_rows(
            [row(2, school_identifier_or_sourced_id="X")], schools=lookup, emails_in_use=()
        )
        assert "sourcedId instead" in errors[0].fix

    def test_only_none_is_not_rostered(self) -> None:
        assert not is_rostered("none") and not is_rostered(" None ")
        assert is_rostered("oneroster-1.1") and is_rostered("oneroster-csv")
        assert is_rostered("something-new")  # unknown kinds fail closed


class TestHandMadeDetails:
    """One hand-made account's details are checked like a row."""

    def test_problems_are_listed_with_fixes(self) -> None:
        problems = check_person(
            given_name="",
            family_name="Reader",
            email="ada@x.org",
            email_required=True,
            emails_in_use={"ada@x.org"},
        )
        assert len(problems) == 2
        assert problems[0].startswith("the first name is missing")
        assert "already uses this email" in problems[1]

    def test_grades_must_be_ceds_codes_or_blank(self) -> None:
        assert check_grade("") == [] and check_grade("KG") == [] and check_grade("13") == []
        assert check_grade("5") != [] and check_grade("14") != []
