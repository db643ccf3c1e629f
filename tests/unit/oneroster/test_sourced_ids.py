"""A sourcedId is normalised the same way wherever it appears: a record's own and every reference.

A stray space around an id (an SIS export padding a cell, a JSON value with a trailing blank)
must not part a person from their enrollments, whichever door the roster came through.
"""

from __future__ import annotations

import pytest
from tests.unit.oneroster.bundle_helpers import make_zip, manifest

from rostersync.domain.records import Enrollment, Person, SchoolClass
from rostersync.oneroster.bundle import Bundle
from rostersync.oneroster.mapping import MAPPERS, sourced_id
from rostersync.oneroster.mapping_v1p2 import MAPPERS_V1P2

PADDED = [" stu-1", "stu-1 ", "\tstu-1\t", " stu-1 \r"]


@pytest.mark.parametrize("padded", PADDED)
@pytest.mark.parametrize("mappers", [MAPPERS, MAPPERS_V1P2], ids=["1.1", "1.2"])
def test_a_record_and_references_to_it_read_the_same_id(
    padded: str, mappers: dict[str, object]
) -> None:
    user = mappers["users"]({"sourcedId": padded, "role": "student"})  # type: ignore[operator]
    enrollment = MAPPERS["enrollments"](
        {"sourcedId": " e-1 ", "user": {"sourcedId": padded}, "class": " c-1"}
    )
    assert isinstance(user, Person)
    assert isinstance(enrollment, Enrollment)
    assert user.sourced_id == enrollment.user_sourced_id == "stu-1"
    assert enrollment.sourced_id == "e-1"
    assert enrollment.class_sourced_id == "c-1"


def test_references_in_lists_are_normalised() -> None:
    klass = MAPPERS["classes"](
        {"sourcedId": "c-1 ", "course": " k-1", "school": "org-1 ", "terms": [" t-1", "t-2 "]}
    )
    assert isinstance(klass, SchoolClass)
    assert (klass.sourced_id, klass.course_sourced_id, klass.school_sourced_id) == (
        "c-1",
        "k-1",
        "org-1",
    )
    assert klass.term_sourced_ids == ("t-1", "t-2")


def test_1p2_roles_join_a_padded_user_to_its_org() -> None:
    person = MAPPERS_V1P2["users"](
        {
            "sourcedId": " stu-1 ",
            "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": " o-1 "}}],
            "primaryOrg": {"sourcedId": "o-1"},
        }
    )
    assert isinstance(person, Person)
    assert (person.sourced_id, person.org_sourced_ids, person.role) == (
        "stu-1",
        ("o-1",),
        "student",
    )


def test_numbers_and_blanks() -> None:
    assert sourced_id(42) == "42"
    assert sourced_id(None) == sourced_id("   ") == ""


USERS_11 = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)
ENROLLMENTS_11 = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
    "primary,beginDate,endDate"
)
ROLES_12 = (
    "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
    "orgSourcedId,userProfileSourcedId"
)


def test_a_bundle_user_with_a_padded_id_keeps_its_enrollments_and_roles() -> None:
    user = '" stu-1 ",,,true,org-1,student,ana,,Ana,Diaz,,S1,a@x.example,,,,09,'
    enrollment = "e-1,,,c-1,org-1,stu-1,student,false,,"
    bundle = make_zip(
        {
            "manifest.csv": manifest(users="bulk", enrollments="bulk"),
            "users.csv": f"{USERS_11}\r\n{user}\r\n".encode(),
            "enrollments.csv": f"{ENROLLMENTS_11}\r\n{enrollment}\r\n".encode(),
        }
    )
    with Bundle(bundle) as opened:
        records = [r for _c, r in opened.records()]
    person = next(r for r in records if isinstance(r, Person))
    joined = next(r for r in records if isinstance(r, Enrollment))
    assert person.sourced_id == joined.user_sourced_id == "stu-1"


def test_a_1p2_bundle_joins_roles_to_a_padded_user() -> None:
    from rostersync.oneroster.bundle_schema import columns_for

    header = ",".join(columns_for("1.2", "users"))
    cells = dict.fromkeys(columns_for("1.2", "users"), "")
    cells.update(sourcedId='" stu-1"', enabledUser="true", givenName="Ana", familyName="Diaz")
    row = ",".join(cells.values())
    role = "r-1,,,stu-1 ,primary,student,,,org-1,"
    bundle = make_zip(
        {
            "manifest.csv": manifest("1.2", users="bulk", roles="bulk"),
            "users.csv": f"{header}\r\n{row}\r\n".encode(),
            "roles.csv": f"{ROLES_12}\r\n{role}\r\n".encode(),
        }
    )
    with Bundle(bundle) as opened:
        (person,) = [r for _c, r in opened.records()]
    assert isinstance(person, Person)
    assert (person.sourced_id, person.role, person.org_sourced_ids) == (
        "stu-1",
        "student",
        ("org-1",),
    )
