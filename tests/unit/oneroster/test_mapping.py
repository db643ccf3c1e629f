"""Raw OneRoster 1.1 JSON maps faithfully and leniently onto the domain records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rostersync.domain.records import (
    ACTIVE,
    TO_BE_DELETED,
    AcademicSession,
    Course,
    Enrollment,
    Org,
    Person,
    SchoolClass,
)
from rostersync.errors import FatalSourceError
from rostersync.oneroster.mapping import (
    MAPPERS,
    to_academic_session,
    to_class,
    to_course,
    to_enrollment,
    to_org,
    to_person,
)


def ref(sid: str, kind: str = "org") -> dict[str, str]:
    # The href deliberately points at another host: mapping must read only the sourcedId.
    return {"href": f"https://other.example/{kind}s/{sid}", "sourcedId": sid, "type": kind}


# A user as ClassLink sends it (after [CDO]): string booleans, empty strings, GUIDRefs.
CLASSLINK_USER: dict[str, Any] = {
    "sourcedId": "5678_S1",
    "status": "active",
    "dateLastModified": "2024-05-01T12:00:00.000Z",
    "username": "jann",
    "userIds": [{"type": "Fed", "identifier": "5678_S1"}, {"type": "StateID", "identifier": "99"}],
    "enabledUser": "true",
    "givenName": "Jo Ann",
    "familyName": "Smith",
    "middleName": "",
    "role": "student",
    "identifier": "S00001",
    "email": "jann@district.example",
    "sms": "",
    "phone": "",
    "agents": [],
    "orgs": [ref("7"), ref("8")],
    "grades": ["05"],
    "password": "",
    "metadata": {"eligible": True, "classlink": {"lunch": "free", "tier": 2}},
}


class TestBooleans:
    """`"true"`/`"false"` strings and JSON booleans are read alike."""

    @pytest.mark.parametrize(
        ("value", "enabled"),
        [("true", True), ("false", False), (True, True), (False, False), ("FALSE", False)],
    )
    def test_enabled_user(self, value: object, enabled: bool) -> None:
        assert to_person({**CLASSLINK_USER, "enabledUser": value}).enabled is enabled

    def test_missing_enabled_user_keeps_the_record_default(self) -> None:
        user = {k: v for k, v in CLASSLINK_USER.items() if k != "enabledUser"}
        assert to_person(user).enabled is True

    @pytest.mark.parametrize(("value", "primary"), [("true", True), (True, True), ("false", False)])
    def test_enrollment_primary(self, value: object, primary: bool) -> None:
        assert to_enrollment({"sourcedId": "e1", "primary": value}).primary is primary


class TestStatus:
    """`inactive` is read as `tobedeleted`; a record without status is present, so active."""

    @pytest.mark.parametrize(
        ("value", "status"),
        [
            ("active", ACTIVE),
            ("tobedeleted", TO_BE_DELETED),
            ("inactive", TO_BE_DELETED),
            ("Inactive", TO_BE_DELETED),
            (None, ACTIVE),
            ("", ACTIVE),
            ("archived", "archived"),
        ],
    )
    def test_status(self, value: str | None, status: str) -> None:
        assert to_org({"sourcedId": "o1", "status": value}).status == status


class TestPerson:
    """A ClassLink user maps field for field; 1.2 `roles[]` fills in a missing role."""

    def test_classlink_user(self) -> None:
        person = to_person(CLASSLINK_USER)
        assert person == Person(
            sourced_id="5678_S1",
            status=ACTIVE,
            date_last_modified="2024-05-01T12:00:00.000Z",
            role="student",
            username="jann",
            given_name="Jo Ann",
            family_name="Smith",
            identifier="S00001",
            email="jann@district.example",
            enabled=True,
            org_sourced_ids=("7", "8"),
            grades=("05",),
            user_ids=(("Fed", "5678_S1"), ("StateID", "99")),
            metadata={"eligible": "true", "classlink.lunch": "free", "classlink.tier": "2"},
        )

    def test_metadata_is_stringified_and_flattened_one_level(self) -> None:
        raw = {"sourcedId": "u1", "metadata": {"a": {"b": {"c": 1}, "n": None}, "x": 1.5}}
        assert to_person(raw).metadata == {"a.b": '{"c":1}', "a.n": "", "x": "1.5"}

    def test_role_field_wins_over_roles(self) -> None:
        roles = [{"roleType": "primary", "role": "teacher", "org": ref("7")}]
        assert to_person({**CLASSLINK_USER, "roles": roles}).role == "student"

    def test_primary_role_in_roles_is_the_fallback(self) -> None:
        user = {k: v for k, v in CLASSLINK_USER.items() if k not in ("role", "orgs")}
        roles = [
            {"roleType": "secondary", "role": "aide", "org": ref("8")},
            {"roleType": "primary", "role": "teacher", "org": ref("7")},
        ]
        person = to_person({**user, "roles": roles})
        assert person.role == "teacher"
        assert person.org_sourced_ids == ("8", "7")

    def test_role_is_kept_as_sent(self) -> None:
        assert to_person({"sourcedId": "u1", "role": "districtAdministrator"}).role == (
            "districtAdministrator"
        )

    def test_absent_fields_become_empty_strings_for_validation_to_report(self) -> None:
        person = to_person({"sourcedId": "u1", "givenName": None})
        assert (person.role, person.username, person.given_name, person.email) == ("", "", "", "")
        assert (person.org_sourced_ids, person.grades, person.user_ids) == ((), (), ())
        assert person.metadata == {} and person.date_last_modified is None

    def test_missing_sourced_id_maps_to_empty_string(self) -> None:
        assert to_person({"givenName": "A"}).sourced_id == ""


class TestOtherRecords:
    """Orgs, sessions, courses, classes and enrollments read GUIDRefs by sourcedId only."""

    def test_org(self) -> None:
        raw = {"sourcedId": "7", "name": "Lincoln", "type": "school", "parent": ref("1")}
        assert to_org(raw) == Org(
            sourced_id="7", name="Lincoln", type="school", identifier="", parent_sourced_id="1"
        )

    def test_academic_session_with_a_numeric_school_year(self) -> None:
        raw = {
            "sourcedId": "T1",
            "title": "Fall",
            "type": "term",
            "startDate": "2024-08-15",
            "endDate": "2024-12-20",
            "schoolYear": 2025,
            "parent": ref("FY", "academicSession"),
        }
        assert to_academic_session(raw) == AcademicSession(
            sourced_id="T1",
            title="Fall",
            type="term",
            start_date="2024-08-15",
            end_date="2024-12-20",
            school_year="2025",
            parent_sourced_id="FY",
        )

    def test_course(self) -> None:
        raw = {
            "sourcedId": "C1",
            "title": "Math 5",
            "courseCode": "M5",
            "org": ref("7"),
            "schoolYear": ref("FY", "academicSession"),
            "grades": ["05"],
        }
        assert to_course(raw) == Course(
            sourced_id="C1",
            title="Math 5",
            course_code="M5",
            org_sourced_id="7",
            school_year_sourced_id="FY",
            grades=("05",),
        )

    def test_class_with_empty_class_code_and_several_terms(self) -> None:
        raw = {
            "sourcedId": "K1",
            "title": "Math 5 - P1",
            "classCode": "",
            "classType": "scheduled",
            "course": ref("C1", "course"),
            "school": ref("7"),
            "terms": [ref("T1", "academicSession"), ref("T2", "academicSession")],
            "grades": "05,06",
            "periods": [],
        }
        assert to_class(raw) == SchoolClass(
            sourced_id="K1",
            title="Math 5 - P1",
            class_code="",
            class_type="scheduled",
            course_sourced_id="C1",
            school_sourced_id="7",
            term_sourced_ids=("T1", "T2"),
            grades=("05", "06"),
        )

    def test_classes_share_what_they_repeat_and_keep_their_own(self) -> None:
        def raw(n: int) -> dict[str, object]:
            # Decoded separately, as pages are: equal values, distinct objects.
            return json.loads(
                json.dumps(
                    {
                        "sourcedId": f"K{n}",
                        "title": f"Math 5 - P{n}",
                        "classType": "scheduled",
                        "course": ref("C1", "course"),
                        "school": ref("7"),
                        "terms": [ref("T1", "academicSession"), ref("T2", "academicSession")],
                        "grades": ["05"],
                    }
                )
            )

        a, b = to_class(raw(1)), to_class(raw(2))
        for name in ("class_type", "course_sourced_id", "school_sourced_id", "term_sourced_ids"):
            assert getattr(a, name) is getattr(b, name), name
        assert a.grades is b.grades and a.title != b.title

    def test_enrollment(self) -> None:
        raw = {
            "sourcedId": "E1",
            "status": "active",
            "user": ref("5678_S1", "user"),
            "class": ref("K1", "class"),
            "school": ref("7"),
            "role": "student",
            "beginDate": "",
            "endDate": "2025-06-01",
        }
        assert to_enrollment(raw) == Enrollment(
            sourced_id="E1",
            class_sourced_id="K1",
            school_sourced_id="7",
            user_sourced_id="5678_S1",
            role="student",
            primary=False,
            begin_date=None,
            end_date="2025-06-01",
        )

    def test_missing_references_are_empty_or_none(self) -> None:
        assert to_class({"sourcedId": "K1"}).course_sourced_id is None
        assert to_enrollment({"sourcedId": "E1", "user": {"href": "x"}}).user_sourced_id == ""


class TestMalformedItems:
    """Only an item that is not a JSON object is an error; there is no record to report on."""

    @pytest.mark.parametrize(
        "mapper", [to_org, to_academic_session, to_course, to_class, to_person, to_enrollment]
    )
    @pytest.mark.parametrize("raw", [["u1"], "u1", None, 7])
    def test_non_object_is_fatal(self, mapper: Any, raw: object) -> None:
        with pytest.raises(FatalSourceError, match="not a JSON object"):
            mapper(raw)

    def test_mappers_cover_every_rostered_collection(self) -> None:
        assert MAPPERS["schools"] is to_org and MAPPERS["students"] is to_person
        assert set(MAPPERS) >= {"orgs", "academicSessions", "courses", "classes", "users"}
        assert MAPPERS["enrollments"] is to_enrollment
