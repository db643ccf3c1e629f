"""Matching source people to existing portal accounts: order, uniqueness, and holding conflicts."""

from __future__ import annotations

from tests import factories

from rostersync.domain.match import AMBIGUOUS, Account, MatchKey, match_accounts
from rostersync.domain.records import EntityKind, StoredIndex, StoredRecord
from rostersync.domain.rules import DistrictRules
from rostersync.domain.validate import ValidatedRoster, validate_roster

RULES = DistrictRules()


def account(aid: str, *, student_id: str = "", email: str = "", **kw: object) -> Account:
    fields: dict[str, object] = {
        "sourced_id": None,
        "active": True,
        "manually_rostered": True,
    }
    fields.update(kw)
    return Account(id=aid, student_id=student_id, email=email, **fields)  # type: ignore[arg-type]


def validated(students: int = 3) -> ValidatedRoster:
    return validate_roster(factories.small_roster(students), RULES)


class TestMatchOrder:
    """A record is matched by student ID first, then by email, only when both sides are unique."""

    def test_student_id_then_email_make_matches_with_their_key(self) -> None:
        accounts = {
            EntityKind.STUDENT: [
                account("a1", student_id="S00001"),
                account("a2", email="  STUDENT2@springfield.example "),
            ]
        }
        result = match_accounts(validated(), {}, accounts)
        found = {(m.sourced_id, m.account_id, m.key) for m in result.matches[EntityKind.STUDENT]}
        assert found == {("stu-1", "a1", MatchKey.STUDENT_ID), ("stu-2", "a2", MatchKey.EMAIL)}
        linked = result.stored[EntityKind.STUDENT]["stu-1"]
        assert linked.id == "a1" and linked.content_hash == "" and not linked.manually_rostered

    def test_educators_match_by_email(self) -> None:
        accounts = {EntityKind.EDUCATOR: [account("e1", email="teacher1@springfield.example")]}
        result = match_accounts(validated(), {}, accounts)
        (match,) = result.matches[EntityKind.EDUCATOR]
        assert (match.sourced_id, match.key) == ("tch-1", MatchKey.EMAIL)

    def test_a_record_already_stored_by_sourced_id_is_not_matched_again(self) -> None:
        stored = {
            EntityKind.STUDENT: {
                "stu-1": StoredRecord(id="x", sourced_id="stu-1", content_hash="h", active=True)
            }
        }
        accounts = {EntityKind.STUDENT: [account("a1", student_id="S00001")]}
        result = match_accounts(validated(), stored, accounts)
        assert result.matches[EntityKind.STUDENT] == []
        assert result.stored[EntityKind.STUDENT]["stu-1"].id == "x"

    def test_a_hand_made_account_with_the_sourced_id_is_matched_by_sourced_id(self) -> None:
        stored = {
            EntityKind.STUDENT: {
                "stu-1": StoredRecord(
                    id="m", sourced_id="stu-1", content_hash="", active=True, manually_rostered=True
                )
            }
        }
        result = match_accounts(validated(), stored, {})
        (match,) = result.matches[EntityKind.STUDENT]
        assert match.key is MatchKey.SOURCED_ID and match.account_id == "m"
        assert not result.stored[EntityKind.STUDENT]["stu-1"].manually_rostered

    def test_relinking_sees_the_stored_index_through_the_matches_without_changing_it(
        self,
    ) -> None:
        stored = StoredIndex()
        stored.add("x3", "stu-3", "h" * 32, True, False)
        # A hand-made account under an old sourcedId, matched to stu-1 by its student ID.
        stored.add("a1", "old-1", "", True, True)
        # A hand-made account ClassLink now sends under the same sourcedId.
        stored.add("m2", "stu-2", "", False, True)
        accounts = {EntityKind.STUDENT: [account("a1", student_id="S00001", sourced_id="old-1")]}
        result = match_accounts(validated(), {EntityKind.STUDENT: stored}, accounts)
        index = result.stored[EntityKind.STUDENT]
        assert dict(index) == {
            "stu-3": StoredRecord("x3", "stu-3", "h" * 32, True, False),
            "stu-2": StoredRecord("m2", "stu-2", "", False, False),
            "stu-1": StoredRecord("a1", "stu-1", "", True, False),
        }
        assert len(index) == 3 and "old-1" not in index and index.get("old-1") is None
        # The index read from the store is left as it was.
        assert set(stored) == {"stu-3", "old-1", "stu-2"} and stored["stu-2"].manually_rostered

    def test_accounts_of_no_candidate_leave_the_roster_as_it_was(self) -> None:
        roster = validated()
        result = match_accounts(roster, {}, {EntityKind.STUDENT: [account("a9", email="x@y")]})
        assert result.matches[EntityKind.STUDENT] == []
        assert result.roster.valid == roster.valid and result.roster.issues == roster.issues


class TestConflicts:
    """Ambiguity is a held record with an issue naming both sides, never a merge."""

    def test_two_keys_pointing_at_two_accounts_hold_the_record(self) -> None:
        accounts = {
            EntityKind.STUDENT: [
                account("a1", student_id="S00001"),
                account("a2", email="student1@springfield.example"),
            ]
        }
        result = match_accounts(validated(), {}, accounts)
        assert result.matches[EntityKind.STUDENT] == []
        (issue,) = [i for i in result.roster.issues if i.code == AMBIGUOUS]
        assert issue.sourced_id == "stu-1" and "a1" in issue.message and "a2" in issue.message
        assert "stu-1" in result.roster.held[EntityKind.STUDENT]
        valid = {r.sourced_id for r in result.roster.valid[EntityKind.STUDENT]}
        assert "stu-1" not in valid

    def test_one_account_claimed_by_two_records_holds_both(self) -> None:
        accounts = {
            EntityKind.STUDENT: [
                account("a1", student_id="S00001", email="student2@springfield.example")
            ]
        }
        result = match_accounts(validated(), {}, accounts)
        assert result.matches[EntityKind.STUDENT] == []
        issues = [i for i in result.roster.issues if i.code == AMBIGUOUS]
        assert {i.sourced_id for i in issues} == {"stu-1", "stu-2"}
        assert all("stu-1" in i.message or "stu-2" in i.message for i in issues)

    def test_two_accounts_sharing_a_student_id_are_not_guessed_between(self) -> None:
        accounts = {
            EntityKind.STUDENT: [
                account("a1", student_id="S00001"),
                account("a2", student_id="S00001"),
            ]
        }
        result = match_accounts(validated(), {}, accounts)
        (issue,) = [i for i in result.roster.issues if i.code == AMBIGUOUS]
        assert "a1" in issue.message and "a2" in issue.message

    def test_enrollments_of_a_held_record_wait_for_it(self) -> None:
        accounts = {
            EntityKind.STUDENT: [
                account("a1", student_id="S00001"),
                account("a2", email="student1@springfield.example"),
            ]
        }
        result = match_accounts(validated(), {}, accounts)
        enrollments = {r.sourced_id for r in result.roster.valid[EntityKind.ENROLLMENT]}
        assert "enr-1" not in enrollments and "enr-2" in enrollments
        assert "enr-1" in result.roster.held[EntityKind.ENROLLMENT]
        assert result.roster.skipped["enrollment_waiting_on_failed_record"] == 1
