"""Clever Data API v3.1 objects become the records a OneRoster source yields."""

from __future__ import annotations

from typing import Any

import pytest

from rostersync.clever import mapping
from rostersync.domain.records import ACTIVE, Enrollment
from rostersync.errors import FatalSourceError

DISTRICT = "5f0c1a2b3c4d5e6f7a8b9c0d"
SCHOOL, OTHER_SCHOOL = "5f0c1a2b3c4d5e6f7a8b0001", "5f0c1a2b3c4d5e6f7a8b0002"


def item(data: dict[str, Any]) -> dict[str, Any]:
    """A list item as the Data API pages it: the record under `data`, with its `uri`."""
    return {"data": data, "uri": f"/v3.1/x/{data.get('id', '')}"}


def user(**roles: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": " 6a0000000000000000000001 ",
        "district": DISTRICT,
        "email": "ada.lovelace@springfield.example",
        "name": {"first": "Ada", "middle": None, "last": "Lovelace"},
        "roles": roles,
        "created": "2026-08-01T00:00:00.000Z",
        "last_modified": "2026-09-02T10:11:12.000Z",
    }


STUDENT_ROLE: dict[str, Any] = {
    "sis_id": "stu-42",
    "student_number": "S000042",
    "state_id": "IL-99",
    "grade": "Kindergarten",
    "school": SCHOOL,
    "schools": [SCHOOL],
    "credentials": {"district_username": "alovelace"},
    "ext": {"eligibility": "RD", "program": {"code": "X1"}},
}


class TestUsers:
    def test_a_student_keeps_ids_grade_schools_username_and_ext_as_metadata(self) -> None:
        person = mapping.to_person(item(user(student=STUDENT_ROLE)))
        assert person.sourced_id == "6a0000000000000000000001"  # id stripped as every id is
        assert person.role == "student" and person.status == ACTIVE
        assert (person.given_name, person.family_name, person.middle_name) == (
            "Ada",
            "Lovelace",
            "",
        )
        assert person.identifier == "S000042"
        assert person.user_ids == (
            ("sis_id", "stu-42"),
            ("student_number", "S000042"),
            ("state_id", "IL-99"),
        )
        assert person.grades == ("KG",)
        assert person.org_sourced_ids == (SCHOOL,)
        assert person.username == "alovelace"
        assert person.email == "ada.lovelace@springfield.example"
        assert person.metadata == {"eligibility": "RD", "program.code": "X1"}
        assert person.date_last_modified == "2026-09-02T10:11:12.000Z"

    def test_a_teacher_who_is_also_staff_is_one_teacher_at_both_schools(self) -> None:
        person = mapping.to_person(
            user(
                staff={"staff_id": "st-7", "schools": [OTHER_SCHOOL], "title": "Principal"},
                teacher={
                    "sis_id": "t-7",
                    "teacher_number": "T00007",
                    "school": SCHOOL,
                    "schools": [SCHOOL],
                    "ext": {"room": "12"},
                },
            )
        )
        assert person.role == "teacher"
        assert person.identifier == "T00007"
        assert person.org_sourced_ids == (SCHOOL, OTHER_SCHOOL)
        assert person.metadata == {"room": "12"}
        assert person.grades == ()
        # No district username: the email stands in, as the portal needs a username.
        assert person.username == "ada.lovelace@springfield.example"

    @pytest.mark.parametrize(
        ("title", "role"),
        [
            ("Aide", "aide"),
            ("Principal", "principal"),
            ("IT Director", "administrator"),
            (None, "administrator"),
        ],
    )
    def test_staff_keep_a_title_that_is_a_oneroster_role_else_are_administrators(
        self, title: str | None, role: str
    ) -> None:
        person = mapping.to_person(
            user(staff={"staff_id": "st-1", "schools": [SCHOOL], "title": title})
        )
        assert person.role == role
        assert person.identifier == "st-1"

    def test_a_district_admin_is_an_administrator_of_the_district(self) -> None:
        person = mapping.to_person(user(district_admin={"title": "Superintendent"}))
        assert person.role == "administrator"
        assert person.org_sourced_ids == (DISTRICT,)

    def test_a_contact_is_a_guardian_which_the_portal_skips(self) -> None:
        assert mapping.to_person(user(contact={"sis_id": "c-1"})).role == "guardian"

    def test_missing_fields_become_empty_for_validation_to_report(self) -> None:
        person = mapping.to_person({"id": "u1", "roles": {"student": {"grade": None}}})
        assert (person.given_name, person.email, person.identifier) == ("", "", "")
        assert person.grades == () and person.user_ids == () and person.org_sourced_ids == ()

    def test_an_item_that_is_not_an_object_is_refused(self) -> None:
        with pytest.raises(FatalSourceError, match="user that is not a JSON object"):
            mapping.to_person(["not", "a", "user"])


@pytest.mark.parametrize(
    ("clever", "ceds"),
    [
        ("Kindergarten", "KG"),
        ("PreKindergarten", "PK"),
        ("TransitionalKindergarten", "TK"),
        ("Preschool", "PR"),
        ("InfantToddler", "IT"),
        ("PostGraduate", "PS"),
        ("Ungraded", "UG"),
        ("Other", "Other"),
        ("1", "01"),
        ("12", "12"),
        ("13", "13"),
        ("Sophomore", "Sophomore"),
    ],
)
def test_grades_become_the_ceds_codes_oneroster_sends(clever: str, ceds: str) -> None:
    assert mapping.grade(clever) == ceds


def test_district_and_schools_become_orgs_under_the_district() -> None:
    district = mapping.to_district(
        item({"id": DISTRICT, "name": "Springfield USD", "nces_id": "17"})
    )
    assert (district.type, district.name, district.identifier) == (
        "district",
        "Springfield USD",
        "17",
    )
    school = mapping.to_school(
        {
            "id": SCHOOL,
            "district": DISTRICT,
            "name": "Lincoln",
            "sis_id": "org-1",
            "school_number": "0101",
        }
    )
    assert (school.type, school.name, school.identifier) == ("school", "Lincoln", "0101")
    assert school.parent_sourced_id == DISTRICT


def test_a_term_is_a_session_of_type_term_in_the_year_it_ends() -> None:
    term = mapping.to_term(
        {
            "id": "t1",
            "district": DISTRICT,
            "name": "Fall",
            "start_date": "2026-08-20",
            "end_date": "2027-01-15",
        }
    )
    assert (term.type, term.title, term.start_date, term.end_date) == (
        "term",
        "Fall",
        "2026-08-20",
        "2027-01-15",
    )
    assert term.school_year == "2027"


def test_a_course_belongs_to_its_district() -> None:
    course = mapping.to_course(
        {"id": "c1", "district": DISTRICT, "name": "Algebra I", "number": "MA101"}
    )
    assert (course.title, course.course_code, course.org_sourced_id) == (
        "Algebra I",
        "MA101",
        DISTRICT,
    )


SECTION: dict[str, Any] = {
    "id": "sec1",
    "district": DISTRICT,
    "school": SCHOOL,
    "course": "c1",
    "term_id": "t1",
    "name": "Algebra I - Smith - Period 3",
    "sis_id": "cls-1",
    "section_number": "MA101-3",
    "subject": "math",
    "grade": "9",
    "students": ["u2", "u3", "u2"],
    "teachers": ["u9"],
    "teacher": "u8",
}


def test_a_section_is_a_class_of_its_course_school_and_term() -> None:
    cls = mapping.to_section(item(SECTION))
    assert cls.title == "Algebra I - Smith - Period 3"
    assert cls.class_code == "MA101-3"
    assert (cls.course_sourced_id, cls.school_sourced_id, cls.term_sourced_ids) == (
        "c1",
        SCHOOL,
        ("t1",),
    )
    assert cls.grades == ("09",)
    assert cls.class_type == "scheduled"
    assert mapping.to_section({**SECTION, "subject": "homeroom/advisory"}).class_type == "homeroom"


def test_a_section_enrolls_each_student_once_and_its_teachers_the_primary_first() -> None:
    enrollments = [mapping.to_enrollment(seat) for seat in mapping.section_seats(item(SECTION))]
    assert [(e.user_sourced_id, e.role, e.primary) for e in enrollments] == [
        ("u2", "student", False),
        ("u3", "student", False),
        ("u8", "teacher", True),  # the section's teacher, though missing from `teachers`
        ("u9", "teacher", False),
    ]
    assert all(isinstance(e, Enrollment) for e in enrollments)
    assert enrollments[0].sourced_id == "sec1:u2:student"
    assert {(e.class_sourced_id, e.school_sourced_id) for e in enrollments} == {("sec1", SCHOOL)}
    # The same section gives the same enrollments (and hashes) every sync.
    again = [mapping.to_enrollment(seat) for seat in mapping.section_seats(SECTION)]
    assert [e.content_hash() for e in again] == [e.content_hash() for e in enrollments]
