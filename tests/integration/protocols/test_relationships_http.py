"""The 1.1 relationship endpoints over real HTTP, signed with OAuth 1.0a HMAC-SHA1 and -SHA256."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.integration.protocols.conftest import KEY, SECRET, TENANT

from rostersync.oneroster import oauth1
from rostersync.oneroster.auth import OAuth1Auth
from rostersync.oneroster.client import OneRosterClient
from rostersync.simulator import DistrictData, SimulatorServer


class Api:
    """GETs signed the way the client signs them (the exact URL string is what is sent)."""

    def __init__(self, server: SimulatorServer, http: httpx.Client, method: str) -> None:
        self.base = server.base_url(TENANT)
        self.http = http
        self.auth = OAuth1Auth(KEY, SECRET, signature_method=method)

    def get(self, path: str, **params: str) -> httpx.Response:
        url = oauth1.build_url(self.base + path, list(params.items()))
        return self.http.get(url, headers=self.auth.headers_for("GET", url))


@pytest.fixture(params=["HMAC-SHA1", "HMAC-SHA256"])
def api(request: pytest.FixtureRequest, server: SimulatorServer) -> Iterator[Api]:
    with httpx.Client(timeout=10) as http:
        yield Api(server, http, request.param)


def ids(records: list[dict[str, Any]]) -> set[str]:
    return {r["sourcedId"] for r in records}


def ref(value: Any) -> str:
    return str(value["sourcedId"])


def a_school(data: DistrictData) -> str:
    return next(o["sourcedId"] for o in data.orgs if o["type"] == "school")


def a_class(data: DistrictData, school: str) -> dict[str, Any]:
    return next(c for c in data.classes if ref(c["school"]) == school)


def enrolled(data: DistrictData, class_id: str, role: str) -> set[str]:
    return {
        ref(e["user"])
        for e in data.enrollments
        if ref(e["class"]) == class_id and e["role"] == role
    }


class TestSchoolRelationships:
    """`/schools/{id}/…` answer that school's records under the resource type's envelope."""

    def test_students_and_teachers_of_a_school(self, api: Api, district_data: DistrictData) -> None:
        school = a_school(district_data)
        for leaf, role in (("students", "student"), ("teachers", "teacher")):
            response = api.get(f"/schools/{school}/{leaf}", limit="1000")
            expected = {
                u["sourcedId"]
                for u in district_data.users
                if u["role"] == role and school in {ref(o) for o in u["orgs"]}
            }
            assert response.status_code == 200
            assert expected and ids(response.json()["users"]) == expected
            assert response.headers["X-Total-Count"] == str(len(expected))

    @pytest.mark.parametrize(
        ("leaf", "envelope"),
        [
            ("classes", "classes"),
            ("courses", "courses"),
            ("enrollments", "enrollments"),
            ("terms", "academicSessions"),
        ],
    )
    def test_other_collections_of_a_school(
        self, api: Api, district_data: DistrictData, leaf: str, envelope: str
    ) -> None:
        school = a_school(district_data)
        response = api.get(f"/schools/{school}/{leaf}", limit="10000")
        assert response.status_code == 200
        records = response.json()[envelope]
        assert records
        if leaf == "classes":
            assert {ref(c["school"]) for c in records} == {school}
        if leaf == "courses":
            assert {ref(c["org"]) for c in records} == {school}
        if leaf == "enrollments":
            assert {ref(e["school"]) for e in records} == {school}
        if leaf == "terms":
            assert {t["type"] for t in records} == {"term"}

    def test_a_class_in_a_school(self, api: Api, district_data: DistrictData) -> None:
        school = a_school(district_data)
        klass = a_class(district_data, school)["sourcedId"]
        students = api.get(f"/schools/{school}/classes/{klass}/students", limit="1000")
        teachers = api.get(f"/schools/{school}/classes/{klass}/teachers")
        enrollments = api.get(f"/schools/{school}/classes/{klass}/enrollments", limit="1000")
        assert ids(students.json()["users"]) == enrolled(district_data, klass, "student")
        assert ids(teachers.json()["users"]) == enrolled(district_data, klass, "teacher")
        assert {ref(e["class"]) for e in enrollments.json()["enrollments"]} == {klass}

    def test_a_class_of_another_school_is_unknown(
        self, api: Api, district_data: DistrictData
    ) -> None:
        schools = [o["sourcedId"] for o in district_data.orgs if o["type"] == "school"]
        klass = a_class(district_data, schools[0])["sourcedId"]
        response = api.get(f"/schools/{schools[1]}/classes/{klass}/students")
        assert response.status_code == 404
        assert "statusInfoSet" in response.json()


class TestOtherRelationships:
    """Classes, terms, courses and users each list their related records."""

    def test_students_and_teachers_of_a_class(self, api: Api, district_data: DistrictData) -> None:
        klass = district_data.classes[0]["sourcedId"]
        students = api.get(f"/classes/{klass}/students", limit="1000").json()["users"]
        teachers = api.get(f"/classes/{klass}/teachers").json()["users"]
        assert ids(students) == enrolled(district_data, klass, "student")
        assert ids(teachers) == enrolled(district_data, klass, "teacher")

    def test_classes_of_a_term_and_of_a_course(self, api: Api, district_data: DistrictData) -> None:
        klass = district_data.classes[0]
        term, course = ref(klass["terms"][0]), ref(klass["course"])
        by_term = api.get(f"/terms/{term}/classes", limit="10000").json()["classes"]
        by_course = api.get(f"/courses/{course}/classes").json()["classes"]
        assert klass["sourcedId"] in ids(by_term)
        assert all(term in {ref(t) for t in c["terms"]} for c in by_term)
        assert {ref(c["course"]) for c in by_course} == {course}

    def test_classes_of_a_student_a_teacher_and_a_user(
        self, api: Api, district_data: DistrictData
    ) -> None:
        klass = district_data.classes[0]["sourcedId"]
        student = sorted(enrolled(district_data, klass, "student"))[0]
        teacher = sorted(enrolled(district_data, klass, "teacher"))[0]
        for path, user in (("students", student), ("teachers", teacher), ("users", student)):
            response = api.get(f"/{path}/{quote(user, safe='')}/classes")
            expected = {
                ref(e["class"]) for e in district_data.enrollments if ref(e["user"]) == user
            }
            found = ids(response.json()["classes"])
            # Planted enrollments point at classes that do not exist; those are not listed.
            assert klass in found and found <= expected

    def test_a_teacher_is_not_found_under_students(
        self, api: Api, district_data: DistrictData
    ) -> None:
        klass = district_data.classes[0]["sourcedId"]
        teacher = sorted(enrolled(district_data, klass, "teacher"))[0]
        assert api.get(f"/students/{teacher}/classes").status_code == 404

    def test_relationship_pages_with_limit_offset_and_link(
        self, api: Api, district_data: DistrictData
    ) -> None:
        school = a_school(district_data)
        first = api.get(f"/schools/{school}/enrollments", limit="5", offset="0")
        second = api.get(f"/schools/{school}/enrollments", limit="5", offset="5")
        assert len(first.json()["enrollments"]) == 5
        assert 'rel="next"' in first.headers["Link"]
        assert not ids(first.json()["enrollments"]) & ids(second.json()["enrollments"])


class TestSha1Signing:
    """OAuth1Auth with HMAC-SHA1 pulls whole collections from the simulator."""

    def test_sha1_signed_client_reads_every_user(
        self, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        auth = OAuth1Auth(KEY, SECRET, signature_method="HMAC-SHA1")
        with OneRosterClient(server.base_url(TENANT), auth, page_size=100) as client:
            users = list(client.iter_collection("users"))
        assert len(users) == len(district_data.users)
