"""Over real HTTP: faults and ClassLink quirks reach the relationship endpoints on every door.

`/teachers/{id}/classes`, `/classes/{id}/students`, `/terms/{id}/gradingPeriods`, … answer through
the same fault and quirk layer as the collections, on 1.1, 1.2 and the ClassLink proxy. A fault's
`collection` is the first path segment after the base URL, so `collection="classes"` reaches
`/classes/{id}/students` as it reaches `/classes`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from tests.integration.simulator.conftest import KEY, SECRET, TENANT, Clock, SignedClient

from rostersync.simulator import DistrictData, SimulatorServer, Tenant
from rostersync.simulator import faults as f
from rostersync.simulator.quirks import QUIRK_HOST

ROSTER = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"


def relationship_paths(data: DistrictData) -> dict[str, str]:
    """One path per relationship endpoint, by a short name, with parents that exist."""
    klass = data.classes[0]
    teacher = next(e["user"]["sourcedId"] for e in data.enrollments if e["role"] == "teacher")
    student = next(e["user"]["sourcedId"] for e in data.enrollments if e["role"] == "student")
    term = next(s for s in data.academicSessions if s["type"] == "term")
    school = next(o for o in data.orgs if o["type"] == "school")
    return {
        "teacher-classes": f"/teachers/{teacher}/classes",
        "student-classes": f"/students/{student}/classes",
        "class-students": f"/classes/{klass['sourcedId']}/students",
        "class-teachers": f"/classes/{klass['sourcedId']}/teachers",
        "term-grading-periods": f"/terms/{term['sourcedId']}/gradingPeriods",
        "term-classes": f"/terms/{term['sourcedId']}/classes",
        "school-students": f"/schools/{school['sourcedId']}/students",
        "school-class-enrollments": (
            f"/schools/{school['sourcedId']}/classes/{klass['sourcedId']}/enrollments"
        ),
        "course-classes": f"/courses/{klass['course']['sourcedId']}/classes",
    }


KINDS = (
    "teacher-classes",
    "student-classes",
    "class-students",
    "class-teachers",
    "term-grading-periods",
    "term-classes",
    "school-students",
    "school-class-enrollments",
    "course-classes",
)


class Door:
    """One way in to the tenant's data: 1.1 signed, 1.2 bearer, or the ClassLink proxy."""

    def __init__(self, name: str, server: SimulatorServer, http: httpx.Client, clock: Clock):
        self.name = name
        self.http = http
        if name == "oneroster-1.1":
            self.signed: SignedClient | None = SignedClient(http, server.base_url(TENANT), clock)
            return
        self.signed = None
        if name == "oneroster-1.2":
            basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
            token = http.post(
                server.token_url(TENANT),
                data={"grant_type": "client_credentials", "scope": ROSTER},
                headers={"Authorization": f"Basic {basic}"},
            ).json()["access_token"]
            self.base = server.v1p2_base_url(TENANT)
            self.headers = {"Authorization": f"Bearer {token}"}
        else:
            app = server.proxy.share(TENANT)
            self.base = f"{server.url}/{app.oneroster_application_id}/ims/oneroster/v1p1"
            self.headers = {"Authorization": f"Bearer {app.bearer}"}

    def get(self, path: str) -> httpx.Response:
        if self.signed is not None:
            return self.signed.get(path)
        return self.http.get(self.base + path, headers=self.headers)


DOORS = ("oneroster-1.1", "oneroster-1.2", "classlink-proxy")


@pytest.fixture(params=DOORS)
def door(request, server: SimulatorServer, http: httpx.Client, clock: Clock) -> Iterator[Door]:
    yield Door(request.param, server, http, clock)


def code_minor(response: httpx.Response) -> str:
    body = response.json()
    info = body["statusInfoSet"][0] if "statusInfoSet" in body else body
    return str(info["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"])


class TestFaults:
    """Refusing faults answer instead of the relationship; altering faults change its answer."""

    @pytest.mark.parametrize("kind", KINDS)
    def test_a_fault_for_every_request_reaches_each_relationship(
        self, server: SimulatorServer, district: DistrictData, door: Door, kind: str
    ) -> None:
        path = relationship_paths(district)[kind]
        assert door.get(path).status_code == 200
        plan = server.set_faults(TENANT, f.server_error(503))
        response = door.get(path)
        assert response.status_code == 503
        assert code_minor(response) == "internal_server_error"
        assert plan.fired == {"5xx": 1}

    def test_a_throttle_scoped_to_the_first_segment_reaches_its_relationships(
        self, server: SimulatorServer, district: DistrictData, door: Door
    ) -> None:
        teachers = relationship_paths(district)["teacher-classes"]
        plan = server.set_faults(TENANT, f.throttle(times=2, retry_after=1, collection="teachers"))
        first, second, third = (door.get(teachers) for _ in range(3))
        assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
        assert first.headers["Retry-After"] == "1"
        assert third.json()["classes"]
        assert plan.fired == {"429-burst": 2}

    def test_a_fault_scoped_to_another_collection_leaves_the_relationship_alone(
        self, server: SimulatorServer, district: DistrictData, door: Door
    ) -> None:
        students = relationship_paths(district)["class-students"]
        plan = server.set_faults(TENANT, f.server_error(500, collection="users"))
        assert door.get(students).status_code == 200
        assert plan.fired == {}

    def test_wrong_total_and_truncated_json_alter_the_relationship_answer(
        self, server: SimulatorServer, district: DistrictData, door: Door
    ) -> None:
        students = relationship_paths(district)["class-students"]
        true_total = int(door.get(students).headers["x-total-count"])
        server.set_faults(TENANT, f.wrong_total(7, collection="classes"))
        assert int(door.get(students).headers["x-total-count"]) == true_total + 7
        server.set_faults(TENANT, f.truncated_json(collection="classes"))
        cut = door.get(students)
        assert cut.status_code == 200
        with pytest.raises(ValueError):
            cut.json()


@pytest.fixture
def quirky(server: SimulatorServer, district: DistrictData, http, clock) -> SignedClient:
    server.add_tenant(Tenant("quirky", district, KEY, SECRET, quirks=True))
    return SignedClient(http, server.base_url("quirky"), clock)


class TestQuirks:
    """A quirky tenant answers relationships the way ClassLink does, as it answers collections."""

    def test_class_members_come_dressed_with_classlinks_headers(
        self, quirky: SignedClient, district: DistrictData
    ) -> None:
        klass = district.classes[0]["sourcedId"]
        response = quirky.get(f"/classes/{klass}/students")
        assert response.status_code == 200
        names = {name for name, _ in response.headers.multi_items()}
        assert {"x-count", "x-total-count"} <= names and "link" not in names
        users = response.json()["users"]
        assert users and all(u["roles"] and u["role"] == "student" for u in users)
        assert all(u["orgs"][0]["href"].startswith(QUIRK_HOST) for u in users)

    def test_a_teachers_classes_come_dressed(
        self, quirky: SignedClient, district: DistrictData
    ) -> None:
        teacher = next(
            e["user"]["sourcedId"] for e in district.enrollments if e["role"] == "teacher"
        )
        classes = quirky.get(f"/teachers/{teacher}/classes").json()["classes"]
        assert classes and all(c["periods"] == [] for c in classes)
        assert all(c["school"]["href"].startswith(QUIRK_HOST) for c in classes)
