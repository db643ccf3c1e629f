"""Right verdicts on messy rosters: a missing email is no duplicate, emails are one address
whatever their case, a reference to a record the district deleted says so, and what waits for
another record's fix names that record."""

from __future__ import annotations

import pytest
from tests import factories as f

from rostersync.domain.emails import normal_email
from rostersync.domain.match import Account, match_accounts
from rostersync.domain.records import EntityKind
from rostersync.domain.references import split_skipped, waiting_key
from rostersync.domain.rules import DistrictRules
from rostersync.domain.staff_import import SheetRow, validate_staff_rows
from rostersync.domain.validate import (
    POINTS_AT_DELETED,
    WAITING,
    EnrollmentContext,
    SourceRoster,
    ValidatedRoster,
    Verdict,
    count_held,
    judge_enrollment,
    validate_roster,
)

UNIQUE = DistrictRules(unique_emails=True)


def codes(result: ValidatedRoster, sid: str) -> list[str]:
    return sorted(i.code for i in result.issues if i.sourced_id == sid)


class TestMissingEmails:
    """ "Every email is unique" holds two people with one address, never a person with none."""

    def test_an_educator_without_an_email_is_provisioned(self) -> None:
        roster = f.small_roster(1)
        roster.add(f.teacher("tch-2", 2, email=""))
        result = validate_roster(roster, UNIQUE)
        assert codes(result, "tch-2") == []
        assert "tch-2" in {r.sourced_id for r in result.valid[EntityKind.EDUCATOR]}

    def test_many_people_without_an_email_are_not_duplicates_of_each_other(self) -> None:
        roster = f.small_roster(
            3, **{f"stu-{n}": f.student(f"stu-{n}", n, email="  ") for n in (1, 2, 3)}
        )
        roster.add(f.teacher("tch-2", 2, email=""))
        result = validate_roster(roster, UNIQUE)
        assert result.issues == []
        assert (
            result.held[EntityKind.STUDENT] == set() and result.held[EntityKind.EDUCATOR] == set()
        )

    def test_a_shared_email_is_still_held_on_both_records(self) -> None:
        roster = f.small_roster(1)
        roster.add(f.teacher("tch-2", 2, email="TEACHER1@springfield.example"))
        result = validate_roster(roster, UNIQUE)
        assert codes(result, "tch-1") == codes(result, "tch-2") == ["duplicate_email"]


class TestEmailCase:
    """One address whatever its case: in validation, matching and the staff import alike."""

    ADDRESSES = ("Maria.Lopez@Students.Example", "JOSÉ.NÚÑEZ@Escuela.Example")

    @pytest.mark.parametrize("address", ADDRESSES)
    def test_validation_holds_two_spellings_of_one_address(self, address: str) -> None:
        roster = f.small_roster(
            2,
            **{
                "stu-1": f.student("stu-1", 1, email=address),
                "stu-2": f.student("stu-2", 2, email=f" {address.lower()} "),
            },
        )
        result = validate_roster(roster, UNIQUE)
        assert codes(result, "stu-1") == codes(result, "stu-2") == ["duplicate_email"]

    @pytest.mark.parametrize("address", ADDRESSES)
    def test_matching_links_an_account_whatever_the_case(self, address: str) -> None:
        roster = f.small_roster(1, **{"stu-1": f.student("stu-1", 1, email=address, identifier="")})
        validated = validate_roster(roster, DistrictRules(student_id_field="sourcedId"))
        existing = Account(
            id="acc-1",
            sourced_id=None,
            student_id="",
            email=normal_email(address.lower()),
            active=True,
            manually_rostered=False,
        )
        matched = match_accounts(validated, {}, {EntityKind.STUDENT: [existing]})
        assert [(m.sourced_id, m.account_id) for m in matched.matches[EntityKind.STUDENT]] == [
            ("stu-1", "acc-1")
        ]

    @pytest.mark.parametrize("address", ADDRESSES)
    def test_the_staff_import_sees_one_address(self, address: str) -> None:
        def row(n: int, email: str) -> SheetRow:
            cells = {
                "first_name": "Ana",
                "last_name": f"Staff{n}",
                "email": email,
                "role": "librarian",
                "school_identifier_or_sourced_id": "",
            }
            return SheetRow(row=n, cells=cells)

        rows = [row(2, address), row(3, address.lower())]
        _accounts, errors = validate_staff_rows(
            rows, schools={}, emails_in_use={normal_email(address.upper())}
        )
        problems = [e.problem for e in errors]
        assert any("already uses this email" in p for p in problems), problems
        assert any("same email is already on row 2" in p for p in problems), problems


class TestDeletedTargets:
    """A reference to a record the district marked `tobedeleted` is told as what it is."""

    def test_an_enrollment_in_a_deleted_class_is_told_so_and_counted(self) -> None:
        roster = f.small_roster(1)
        roster.add(f.klass("cls-2", status="tobedeleted"))
        roster.add(f.enrollment("enr-x", "stu-1", cls="cls-2"))
        result = validate_roster(roster, UNIQUE)
        (issue,) = [i for i in result.issues if i.sourced_id == "enr-x"]
        assert issue.code == "deleted_class"
        assert "marked for deletion" in issue.message and "cls-2" in issue.message
        assert "share" not in (issue.message + issue.fix).lower()
        assert "enr-x" in result.held[EntityKind.ENROLLMENT]
        assert result.skipped[f"enrollment_{POINTS_AT_DELETED}"] == 1

    def test_a_student_in_a_deleted_school_is_told_so_and_counted(self) -> None:
        roster = f.small_roster(1, **{"stu-1": f.student("stu-1", 1, org_sourced_ids=("sch-9",))})
        roster.add(f.org("sch-9", status="tobedeleted"))
        result = validate_roster(roster, UNIQUE)
        assert codes(result, "stu-1") == ["deleted_school"]
        assert result.skipped[f"student_{POINTS_AT_DELETED}"] == 1

    def test_a_streamed_enrollment_of_a_deleted_person_is_told_so(self) -> None:
        context = EnrollmentContext(
            classes_ok={"cls-1"},
            classes_held=set(),
            people_known=set(),
            people_held=set(),
            people_deleted={"stu-9"},
        )
        verdict, issues = judge_enrollment(f.enrollment("enr-9", "stu-9"), context)
        assert verdict is Verdict.HELD
        assert [i.code for i in issues] == ["deleted_user"]
        assert "marked for deletion" in issues[0].message

    def test_a_reference_to_a_record_not_shared_still_asks_to_share_it(self) -> None:
        roster = f.small_roster(1)
        roster.add(f.enrollment("enr-x", "stu-1", cls="ghost"))
        result = validate_roster(roster, UNIQUE)
        assert codes(result, "enr-x") == ["unknown_class"]
        assert f"enrollment_{POINTS_AT_DELETED}" not in result.skipped


class TestWaitingFor:
    """Records held for another record's error say which record they wait for, by name first."""

    def test_enrollments_of_a_held_class_wait_for_it_by_title(self) -> None:
        roster = SourceRoster()
        records = (f.org("sch-1"), f.term(), f.course(), f.klass(term_sourced_ids=()))
        for record in (*records, f.teacher(), f.student("stu-1", 1), f.student("stu-2", 2)):
            roster.add(record)
        for n in (1, 2):
            roster.add(f.enrollment(f"enr-{n}", f"stu-{n}"))
        result = validate_roster(roster, UNIQUE)
        assert result.skipped == {f"enrollment_{WAITING}": 2}
        assert result.waiting == {waiting_key("enrollment", "class “Reading 1” (cls-1)"): 2}

    def test_what_waits_for_a_person_or_a_school_names_them(self) -> None:
        roster = f.small_roster(2, **{"stu-2": f.student("stu-2", 2, grades=())})
        roster.add(f.course("crs-2", org_sourced_id="sch-2"))
        roster.add(f.org("sch-2", name="Lincoln Elementary", type="campus"))
        result = validate_roster(roster, UNIQUE)
        assert result.waiting == {
            waiting_key("enrollment", "student Ada Reader2 (stu-2)"): 1,
            waiting_key("course", "school “Lincoln Elementary” (sch-2)"): 1,
        }

    def test_matching_counts_what_waits_for_an_ambiguous_person(self) -> None:
        roster = f.small_roster(1)
        validated = validate_roster(roster, DistrictRules(student_id_field="sourcedId"))
        twins = [
            Account(
                id=f"acc-{n}",
                sourced_id=None,
                student_id="",
                email="student1@springfield.example",
                active=True,
                manually_rostered=False,
            )
            for n in (1, 2)
        ]
        matched = match_accounts(validated, {}, {EntityKind.STUDENT: twins})
        assert matched.blocked == {"stu-1"}
        assert matched.blocked_names == {"stu-1": "student Ada Reader1 (stu-1)"}
        waits = waiting_key("enrollment", "student Ada Reader1 (stu-1)")
        assert matched.roster.skipped[waits] == matched.roster.skipped[f"enrollment_{WAITING}"]
        assert matched.roster.skipped[waits] == 1

    def test_a_streamed_enrollment_is_counted_with_what_it_waits_for(self) -> None:
        context = EnrollmentContext(
            classes_ok=set(),
            classes_held={"cls-1"},
            people_known={"stu-1"},
            people_held=set(),
            class_names={"cls-1": "class “Reading 1” (cls-1)"},
        ).without_people({"stu-2"}, {"stu-2": "student Ada Reader2 (stu-2)"})
        skipped: dict[str, int] = {}
        for sid, user in (("enr-1", "stu-1"), ("enr-2", "stu-2")):
            enrollment = f.enrollment(sid, user)
            count_held(skipped, judge_enrollment(enrollment, context), enrollment, context)
        assert skipped == {
            f"enrollment_{WAITING}": 2,
            waiting_key("enrollment", "class “Reading 1” (cls-1)"): 2,
            waiting_key("enrollment", "student Ada Reader2 (stu-2)"): 1,
        }

    def test_people_read_what_waits_apart_from_what_was_skipped_on_purpose(self) -> None:
        skipped = {
            "guardian": 4,
            f"enrollment_{WAITING}": 3,
            waiting_key("enrollment", "class “Reading 1” (cls-1)"): 2,
            waiting_key("enrollment", "student Ada Reader2 (stu-2)"): 1,
            f"class_{WAITING}": 1,
        }
        on_purpose, waiting = split_skipped(skipped)
        assert on_purpose == {"guardian": 4}
        assert waiting == [
            "1 class waits for a record with an error",
            "3 enrollments wait for: class “Reading 1” (cls-1) 2, student Ada Reader2 (stu-2) 1",
        ]
