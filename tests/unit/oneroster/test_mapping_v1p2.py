"""1.2 users map to the same `Person` a 1.1 server's same user maps to."""

from __future__ import annotations

from typing import Any

import pytest

from rostersync.domain.records import EDUCATOR_ROLES
from rostersync.errors import FatalSourceError
from rostersync.oneroster.mapping import to_person
from rostersync.oneroster.mapping_v1p2 import (
    MAPPERS_V1P2,
    ROLES_V1P2,
    role_from_v1p2,
    to_person_v1p2,
)


def org(sid: str) -> dict[str, str]:
    return {"href": f"https://elsewhere.example/orgs/{sid}", "sourcedId": sid, "type": "org"}


def role(name: str, at: str, kind: str = "primary") -> dict[str, Any]:
    return {"roleType": kind, "role": name, "org": org(at)}


def user_v1p1(**overrides: Any) -> dict[str, Any]:
    user = {
        "sourcedId": "stf-00001",
        "status": "active",
        "dateLastModified": "2025-01-01T00:00:00Z",
        "username": "ada.l",
        "enabledUser": "true",
        "givenName": "Ada",
        "familyName": "Lovelace",
        "role": "teacher",
        "identifier": "T00001",
        "email": "ada@example.org",
        "orgs": [org("org-101"), org("org-102")],
        "grades": [],
        "userIds": [{"type": "StateID", "identifier": "E1"}],
    }
    return {**user, **overrides}


def as_v1p2(user: dict[str, Any], roles: list[dict[str, Any]]) -> dict[str, Any]:
    converted = {k: v for k, v in user.items() if k not in ("role", "orgs")}
    converted["roles"] = roles
    converted["primaryOrg"] = roles[0]["org"]
    return converted


class TestSameRecordAs1p1:
    """A user in 1.2 shape yields the same `Person`, and so the same content hash, as in 1.1."""

    def test_teacher_at_two_schools(self) -> None:
        old = user_v1p1()
        new = as_v1p2(old, [role("teacher", "org-101"), role("teacher", "org-102")])
        assert to_person_v1p2(new) == to_person(old)
        assert to_person_v1p2(new).content_hash() == to_person(old).content_hash()

    @pytest.mark.parametrize(
        ("level", "at"), [("districtAdministrator", "org-1"), ("siteAdministrator", "org-101")]
    )
    def test_administrator_levels_read_as_administrator(self, level: str, at: str) -> None:
        old = user_v1p1(role="administrator", orgs=[org(at)])
        new = as_v1p2(old, [role(level, at)])
        assert to_person_v1p2(new) == to_person(old)

    def test_preferred_names_and_user_profiles_do_not_change_the_record(self) -> None:
        old = user_v1p1(orgs=[org("org-101")])
        new = as_v1p2(old, [role("teacher", "org-101")])
        new["preferredFirstName"] = "Addie"
        new["userProfiles"] = [
            {
                "profileId": "urn:x",
                "profileType": "app",
                "vendorId": "v",
                "credentials": [{"type": "pw", "username": "ada", "password": "hunter2"}],
            }
        ]
        mapped = to_person_v1p2(new)
        assert mapped == to_person(old)
        assert "hunter2" not in repr(mapped)


class TestRoles:
    """The role is the primary role at the primary org; every role's org is kept."""

    def test_primary_role_at_the_primary_org_wins(self) -> None:
        user = as_v1p2(
            user_v1p1(),
            [role("aide", "org-102", "secondary"), role("teacher", "org-101")],
        )
        user["primaryOrg"] = org("org-101")
        mapped = to_person_v1p2(user)
        assert mapped.role == "teacher"
        assert mapped.org_sourced_ids == ("org-101", "org-102")

    def test_without_a_primary_the_first_role_is_used(self) -> None:
        user = as_v1p2(user_v1p1(), [role("counselor", "org-101", "secondary")])
        del user["primaryOrg"]
        assert to_person_v1p2(user).role == "counselor"

    @pytest.mark.parametrize("name", ["principal", "counselor", "aide", "proctor", "teacher"])
    def test_staff_roles_1p2_added_are_kept_and_are_educator_roles(self, name: str) -> None:
        assert role_from_v1p2(name) == name
        mapped = to_person_v1p2(as_v1p2(user_v1p1(), [role(name, "org-101")]))
        assert mapped.role == name and mapped.role in EDUCATOR_ROLES

    def test_every_1p2_administrator_level_is_an_administrator(self) -> None:
        levels = {r for r in ROLES_V1P2 if r.endswith("Administrator")}
        assert {role_from_v1p2(r) for r in levels} == {"administrator"}

    def test_a_user_with_the_1p1_role_and_orgs_is_read_by_them(self) -> None:
        user = user_v1p1(roles=[role("aide", "org-999")])
        mapped = to_person_v1p2(user)
        assert mapped.role == "teacher"
        assert mapped.org_sourced_ids == ("org-101", "org-102")

    def test_a_user_without_roles_maps_with_empty_role_for_validation_to_report(self) -> None:
        user = as_v1p2(user_v1p1(), [role("teacher", "org-101")])
        user["roles"] = []
        del user["primaryOrg"]
        mapped = to_person_v1p2(user)
        assert (mapped.role, mapped.org_sourced_ids) == ("", ())


class TestMappers:
    """Only users differ; every other collection maps as in 1.1."""

    def test_users_students_teachers_use_the_1p2_user(self) -> None:
        assert {MAPPERS_V1P2[c] for c in ("users", "students", "teachers")} == {to_person_v1p2}
        assert MAPPERS_V1P2["orgs"].__name__ == "to_org"

    def test_a_non_object_is_fatal(self) -> None:
        with pytest.raises(FatalSourceError):
            to_person_v1p2(["not", "a", "user"])
