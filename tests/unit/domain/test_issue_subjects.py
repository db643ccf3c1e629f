"""Every issue names its record as the roster sent it: a person by name, role, the district's
student ID, grade and school; a class by title, code and school; an enrollment as "student in
class". Also a record that failed validation and was never provisioned."""

from __future__ import annotations

import pytest
from tests import factories as f

from rostersync.domain.issues import IssueSubject
from rostersync.domain.rules import DistrictRules
from rostersync.domain.validate import SourceRoster, ValidatedRoster, validate_roster


def subjects(result: ValidatedRoster, sid: str) -> set[IssueSubject | None]:
    return {i.subject for i in result.issues if i.sourced_id == sid}


def messy(rules: DistrictRules | None = None) -> SourceRoster:
    """A small district with one broken record of each kind."""
    roster = f.small_roster(
        3,
        # No grade, though the district said grades are provided.
        **{"stu-2": f.student("stu-2", 2, given_name=" Zoë ", family_name="Muñoz", grades=())},
    )
    if rules is not None:  # people become accounts as they arrive, their records not kept
        streamed = SourceRoster(rules=rules)
        for bucket in (roster.orgs, roster.sessions, roster.courses, roster.classes):
            for record in bucket.values():
                streamed.add(record)
        for person in roster.people.values():
            streamed.add(person)
        for enrollment in roster.enrollments.values():
            streamed.add(enrollment)
        roster = streamed
    # A student at a school the roster did not send, with an ID in userIds.
    roster.add(
        f.student(
            "stu-9",
            9,
            given_name="Omar",
            family_name="Haddad",
            org_sourced_ids=("sch-404",),
            user_ids=(("StateID", "ST-9"),),
            grades=("5th",),
        )
    )
    roster.add(f.teacher("tch-2", 2, email="not an email"))
    roster.add(f.student("usr-7", 7, role="janitor", given_name="Lee", family_name="Park"))
    roster.add(f.klass("cls-2", title="Maths 2", class_code="MA2-01", term_sourced_ids=()))
    roster.add(f.enrollment("enr-x", "stu-1", role="coach"))
    roster.add(f.course("crs-2", title="Art", course_code="ART", org_sourced_id="sch-404"))
    return roster


RULES = DistrictRules(student_id_field="userIds:StateID")


@pytest.mark.parametrize("streamed", [False, True], ids=["kept", "streamed"])
class TestSubjects:
    def result(self, streamed: bool) -> ValidatedRoster:
        return validate_roster(messy(RULES if streamed else None), RULES)

    def test_a_student_held_for_a_missing_grade_is_named(self, streamed: bool) -> None:
        # The ID rule reads userIds:StateID, which stu-2 lacks: both issues name the student.
        assert subjects(self.result(streamed), "stu-2") == {
            IssueSubject(name="Zoë Muñoz", role="student", school="School sch-1")
        }

    def test_the_district_student_id_and_an_unknown_school_by_its_sourced_id(
        self, streamed: bool
    ) -> None:
        assert subjects(self.result(streamed), "stu-9") == {
            IssueSubject(
                name="Omar Haddad",
                role="student",
                student_id="ST-9",
                grade="5th",
                school="sch-404",
            )
        }

    def test_an_educator_keeps_the_role_the_roster_sent(self, streamed: bool) -> None:
        assert subjects(self.result(streamed), "tch-2") == {
            IssueSubject(name="Grace Teacher2", role="teacher", school="School sch-1")
        }

    def test_a_user_with_an_unknown_role_never_became_an_account_and_is_named(
        self, streamed: bool
    ) -> None:
        assert subjects(self.result(streamed), "usr-7") == {
            IssueSubject(name="Lee Park", role="janitor", grade="05", school="School sch-1")
        }

    def test_a_class_by_title_code_and_school(self, streamed: bool) -> None:
        assert subjects(self.result(streamed), "cls-2") == {
            IssueSubject(name="Maths 2", code="MA2-01", school="School sch-1")
        }

    def test_an_enrollment_as_student_in_class(self, streamed: bool) -> None:
        (subject,) = subjects(self.result(streamed), "enr-x")
        assert subject is not None
        assert subject.name == "Ada Reader1 in Reading 1"
        assert (subject.role, subject.school, subject.code) == ("coach", "School sch-1", "RD1-01")

    def test_a_course_by_title_and_code(self, streamed: bool) -> None:
        assert subjects(self.result(streamed), "crs-2") == {
            IssueSubject(name="Art", code="ART", school="sch-404")
        }

    def test_every_issue_of_a_sent_record_has_a_subject(self, streamed: bool) -> None:
        assert all(i.subject is not None for i in self.result(streamed).issues)


def test_a_streamed_enrollment_is_named_by_the_context() -> None:
    from rostersync.domain.validate import judge_enrollment

    result = validate_roster(f.small_roster(2), DistrictRules())
    assert result.enrollments is not None
    _, issues = judge_enrollment(f.enrollment("enr-9", "stu-2", cls="cls-404"), result.enrollments)
    assert [i.code for i in issues] == ["unknown_class"]
    subject = issues[0].subject
    assert subject is not None and subject.name == "Ada Reader2"
    assert (subject.student_id, subject.grade) == ("S00002", "05")


def test_the_label_puts_the_name_first() -> None:
    subject = IssueSubject(
        name="Zoë Muñoz", role="student", student_id="S1", grade="05", school="Lincoln ES"
    )
    assert subject.label() == "Zoë Muñoz (student, ID S1, grade 05, Lincoln ES)"
    assert IssueSubject(school="sch-1").label() == "sch-1"
