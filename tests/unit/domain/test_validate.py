"""Validation follows the district's questionnaire and holds bad records without aborting."""

from __future__ import annotations

from tests import factories as f

from rostersync.domain.issues import Severity
from rostersync.domain.records import EntityKind, Student
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.validate import (
    WAITING,
    Owners,
    SourceRoster,
    project_person,
    validate_roster,
)

RULES = DistrictRules()


def codes(result, sid):  # type: ignore[no-untyped-def]
    return sorted(i.code for i in result.issues if i.sourced_id == sid)


def valid_ids(result, kind):  # type: ignore[no-untyped-def]
    return {r.sourced_id for r in result.valid[kind]}


class TestValidRoster:
    """A clean district passes whole."""

    def test_every_record_is_valid_and_no_issue_is_raised(self) -> None:
        result = validate_roster(f.small_roster(3), RULES)
        assert result.issues == []
        assert valid_ids(result, EntityKind.STUDENT) == {"stu-1", "stu-2", "stu-3"}
        assert valid_ids(result, EntityKind.EDUCATOR) == {"tch-1"}
        assert len(result.valid[EntityKind.ENROLLMENT]) == 4

    def test_student_projection_reads_grade_student_id_and_email(self) -> None:
        result = validate_roster(f.small_roster(1), RULES)
        (student,) = result.valid[EntityKind.STUDENT]
        assert isinstance(student, Student)
        assert (student.grade, student.student_id) == ("05", "S00001")


class TestStudentRules:
    """Grades, student IDs and emails are checked as the district said they are provided."""

    def test_missing_grade_holds_the_student_and_their_enrollment_waits(self) -> None:
        roster = f.small_roster(2, **{"stu-2": f.student("stu-2", 2, grades=())})
        result = validate_roster(roster, RULES)
        assert codes(result, "stu-2") == ["missing_grade"]
        assert "stu-2" in result.held[EntityKind.STUDENT]
        assert "enr-2" in result.held[EntityKind.ENROLLMENT]
        assert result.skipped == {f"enrollment_{WAITING}": 1}
        issue = next(i for i in result.issues if i.sourced_id == "stu-2")
        assert "grade" in issue.message and "SIS" in issue.fix

    def test_a_message_names_the_student_first_and_their_classlink_id_second(self) -> None:
        roster = f.small_roster(2, **{"stu-2": f.student("stu-2", 2, grades=("5th",))})
        (issue,) = validate_roster(roster, RULES).issues
        assert issue.message.startswith("Student Ada Reader2 (stu-2) has grade '5th'")

    def test_missing_grade_is_fine_when_grades_are_not_provided(self) -> None:
        roster = f.small_roster(1, **{"stu-1": f.student("stu-1", 1, grades=())})
        result = validate_roster(roster, DistrictRules(grades_provided=False))
        assert result.issues == []

    def test_invalid_grade_code_is_an_error(self) -> None:
        roster = f.small_roster(1, **{"stu-1": f.student("stu-1", 1, grades=("5th",))})
        assert codes(validate_roster(roster, RULES), "stu-1") == ["invalid_grade"]

    def test_duplicate_student_id_holds_both_records(self) -> None:
        roster = f.small_roster(2, **{"stu-2": f.student("stu-2", 2, identifier="S00001")})
        result = validate_roster(roster, RULES)
        assert codes(result, "stu-1") == ["duplicate_student_id"]
        assert codes(result, "stu-2") == ["duplicate_student_id"]
        assert valid_ids(result, EntityKind.STUDENT) == set()

    def test_duplicate_email_is_case_insensitive_and_spans_students_and_staff(self) -> None:
        roster = f.small_roster(
            1, **{"stu-1": f.student("stu-1", 1, email=" Teacher1@Springfield.example ")}
        )
        result = validate_roster(roster, RULES)
        assert codes(result, "stu-1") == ["duplicate_email"]
        assert codes(result, "tch-1") == ["duplicate_email"]

    def test_duplicate_email_is_a_warning_that_drops_the_email_when_not_unique(self) -> None:
        roster = f.small_roster(
            2, **{"stu-2": f.student("stu-2", 2, email="student1@springfield.example")}
        )
        result = validate_roster(roster, DistrictRules(unique_emails=False))
        assert {i.severity for i in result.issues} == {Severity.WARNING}
        students = {s.sourced_id: s for s in result.valid[EntityKind.STUDENT]}
        assert students["stu-2"].email == "" and students["stu-1"].email == ""  # type: ignore[attr-defined]

    def test_student_id_comes_from_the_field_the_district_named(self) -> None:
        person = f.student("stu-1", 1, user_ids=(("StateID", "TX-99"),), identifier="")
        result = validate_roster(
            f.small_roster(1, **{"stu-1": person}),
            DistrictRules(student_id_field="userIds:StateID"),
        )
        (student,) = result.valid[EntityKind.STUDENT]
        assert student.student_id == "TX-99"  # type: ignore[attr-defined]

    def test_eligibility_value_is_read_from_the_named_metadata_field(self) -> None:
        person = f.student("stu-1", 1, metadata={"elig": "BVI"})
        rules = DistrictRules(
            eligibility_source=EligibilitySource.METADATA, eligibility_field="elig"
        )
        (student,) = validate_roster(f.small_roster(1, **{"stu-1": person}), rules).valid[
            EntityKind.STUDENT
        ]
        assert student.eligibility_value == "BVI"  # type: ignore[attr-defined]


class TestReferences:
    """Every reference must resolve to a record in the same pull."""

    def test_user_pointing_at_unknown_school_is_an_error_naming_the_school(self) -> None:
        roster = f.small_roster(1, **{"stu-1": f.student("stu-1", 1, org_sourced_ids=("nowhere",))})
        result = validate_roster(roster, RULES)
        assert codes(result, "stu-1") == ["unknown_school"]
        assert "nowhere" in result.issues[0].message

    def test_enrollment_in_unknown_class_is_an_error(self) -> None:
        roster = f.small_roster(1)
        roster.add(f.enrollment("enr-x", "stu-1", cls="ghost"))
        result = validate_roster(roster, RULES)
        assert codes(result, "enr-x") == ["unknown_class"]

    def test_class_in_a_failed_course_waits_without_an_issue_of_its_own(self) -> None:
        roster = SourceRoster()
        for record in (f.org("sch-1"), f.term(), f.course(title=" "), f.klass()):
            roster.add(record)
        result = validate_roster(roster, RULES)
        assert codes(result, "crs-1") == ["missing_title"]
        assert codes(result, "cls-1") == []
        assert "cls-1" in result.held[EntityKind.CLASS]


class TestCollection:
    """Duplicate and missing sourcedIds are issues, and family members are skipped."""

    def test_repeated_sourced_id_keeps_the_first_and_reports_the_second(self) -> None:
        roster = f.small_roster(1)
        roster.add(f.student("stu-1", 9))
        result = validate_roster(roster, RULES)
        assert codes(result, "stu-1") == ["duplicate_sourced_id"]
        assert valid_ids(result, EntityKind.STUDENT) == {"stu-1"}

    def test_guardians_are_counted_as_skipped_not_errors(self) -> None:
        roster = f.small_roster(1)
        roster.add(f.teacher("par-1", 2, role="guardian"))
        result = validate_roster(roster, RULES)
        assert result.issues == [] and result.skipped == {"guardian": 1}

    def test_every_staff_role_becomes_an_educator_keeping_its_role(self) -> None:
        roster = f.small_roster(0)
        roster.add(f.teacher("aide-1", 2, role="aide"))
        roster.add(f.teacher("adm-1", 3, role="administrator"))
        result = validate_roster(roster, RULES)
        roles = {e.sourced_id: e.role for e in result.valid[EntityKind.EDUCATOR]}  # type: ignore[attr-defined]
        assert roles == {"tch-1": "teacher", "aide-1": "aide", "adm-1": "administrator"}

    def test_tobedeleted_record_is_passed_on_as_a_removal_without_content_checks(self) -> None:
        roster = f.small_roster(
            1, **{"stu-1": f.student("stu-1", 1, status="tobedeleted", grades=())}
        )
        result = validate_roster(roster, RULES)
        assert codes(result, "stu-1") == []
        assert [s.status for s in result.valid[EntityKind.STUDENT]] == ["tobedeleted"]


class TestOwners:
    """Values used once cost one entry; values used more than once name every other user."""

    def test_others_lists_every_other_record_in_order(self) -> None:
        owners = Owners()
        for value, sid in [("a@x", "s1"), ("b@x", "s2"), ("a@x", "s3"), ("a@x", "s4")]:
            owners.add(value, sid)
        assert owners.others("a@x", "s3") == ["s1", "s4"]
        assert owners.others("a@x", "s1") == ["s3", "s4"]
        assert owners.others("b@x", "s2") == []
        assert owners.others("c@x", "s9") == []


class TestSharedValues:
    """What many accounts repeat is one object in memory; what each has alone is its own."""

    def test_accounts_share_repeated_values_and_keep_their_own(self) -> None:
        rules = DistrictRules(
            eligibility_source=EligibilitySource.METADATA, eligibility_field="eligibility"
        )
        # Two users decoded separately: equal values, distinct objects, as a parser makes them.
        people = [
            f.student(
                sid,
                n,
                given_name="".join(["Ad", "a"]),
                family_name="".join(["Love", "lace"]),
                org_sourced_ids=tuple(["org-1", "org-2"]),
                grades=("".join(["0", "5"]),),
                metadata={"eligibility": "".join(["IE", "P"])},
            )
            for sid, n in (("stu-1", 1), ("stu-2", 2))
        ]
        assert people[0].given_name is not people[1].given_name
        a, b = (project_person(p, rules) for p in people)
        assert isinstance(a, Student) and isinstance(b, Student)
        assert (a.given_name, a.family_name, a.grade, a.eligibility_value) == (
            "Ada",
            "Lovelace",
            "05",
            "IEP",
        )
        for name in ("given_name", "family_name", "school_sourced_ids", "grade"):
            assert getattr(a, name) is getattr(b, name), name
        assert a.eligibility_value is b.eligibility_value
        assert a.email != b.email and a.sourced_id != b.sourced_id
