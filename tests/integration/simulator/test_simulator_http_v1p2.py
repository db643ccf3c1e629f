"""Over real HTTP: the OneRoster 1.2 door as the specifications describe it.

- RFC 6749 §3.3: a token endpoint may grant part of the scope asked for, and then must say which
  (`scope` in the token response); `invalid_scope` is for a request nothing of which is offered.
- 1.2 GUIDRefs point at 1.2 resources (`/ims/oneroster/rostering/v1p2/...`), never at 1.1 paths.
- 1.2 OpenAPI: an invalid selection field is a 400 `invalid_selection_field` (failure/error, the
  bare imsx_StatusInfo), since a 1.2 success payload never carries status information.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.integration.simulator.conftest import KEY, SECRET, TENANT

from rostersync.simulator import SimulatorServer, Tenant
from rostersync.simulator.quirks import QUIRK_HOST

PREFIX = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
ROSTER_CORE = PREFIX + "roster-core.readonly"
ROSTER = PREFIX + "roster.readonly"
GRADEBOOK = (PREFIX + "gradebook.readonly", PREFIX + "gradebook-core.readonly")
V1P2_PATH = "/ims/oneroster/rostering/v1p2/"


def basic() -> str:
    return "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()


def ask(server: SimulatorServer, http: httpx.Client, scope: str) -> httpx.Response:
    return http.post(
        server.token_url(TENANT),
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": basic()},
    )


class V1p2:
    """A bearer-token client of one tenant's 1.2 rostering service."""

    def __init__(self, server: SimulatorServer, http: httpx.Client, scope: str) -> None:
        response = ask(server, http, scope)
        assert response.status_code == 200, response.text
        self.base = server.v1p2_base_url(TENANT)
        self.http = http
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(self.base + path, params=params, headers=self.headers)


@pytest.fixture
def v1p2(server: SimulatorServer, http: httpx.Client) -> Iterator[V1p2]:
    yield V1p2(server, http, f"{ROSTER_CORE} {ROSTER}")


def hrefs(value: object) -> list[str]:
    """Every GUIDRef href inside a JSON value."""
    found: list[str] = []
    if isinstance(value, dict):
        href = value.get("href")
        if isinstance(href, str):
            found.append(href)
        for item in value.values():
            found += hrefs(item)
    elif isinstance(value, list):
        for item in value:
            found += hrefs(item)
    return found


def code_minor(body: dict[str, Any]) -> str:
    return str(body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"])


class TestScopes:
    """Grant what is offered; refuse only a request of which nothing is offered."""

    def test_roster_and_gradebook_scopes_get_the_roster_ones_and_say_so(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        response = ask(server, http, " ".join((ROSTER_CORE, ROSTER, *GRADEBOOK)))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["access_token"] and body["token_type"] == "bearer"
        assert set(body["scope"].split()) == {ROSTER_CORE, ROSTER}

    def test_the_granted_token_reads_what_its_scopes_allow(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        client = V1p2(server, http, f"{ROSTER} {GRADEBOOK[0]}")
        school = next(o for o in server.tenant(TENANT).data.orgs if o["type"] == "school")
        assert client.get("/orgs").status_code == 200
        assert client.get(f"/schools/{school['sourcedId']}/teachers").status_code == 200

    def test_only_gradebook_scopes_are_refused_with_invalid_scope(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        response = ask(server, http, " ".join(GRADEBOOK))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
        assert "roster-core.readonly" in response.json()["error_description"]


class TestHrefs:
    """References in 1.2 answers point at the 1.2 rostering paths."""

    @pytest.mark.parametrize(
        "path", ["/users", "/classes", "/enrollments", "/courses", "/orgs", "/academicSessions"]
    )
    def test_collections_carry_v1p2_hrefs(self, v1p2: V1p2, path: str) -> None:
        response = v1p2.get(path, limit=50)
        assert response.status_code == 200
        found = hrefs(response.json())
        assert found
        assert all(V1P2_PATH in href and "/v1p1/" not in href for href in found), found[:3]

    def test_singletons_and_relationships_carry_v1p2_hrefs(
        self, v1p2: V1p2, server: SimulatorServer
    ) -> None:
        klass = server.tenant(TENANT).data.classes[0]
        for path in (f"/classes/{klass['sourcedId']}", f"/classes/{klass['sourcedId']}/students"):
            found = hrefs(v1p2.get(path).json())
            assert found and all(V1P2_PATH in href for href in found), (path, found[:3])

    def test_an_href_names_the_collection_and_sourced_id_it_refers_to(self, v1p2: V1p2) -> None:
        klass = v1p2.get("/classes", limit=1).json()["classes"][0]
        school = klass["school"]
        assert school["href"].endswith(f"{V1P2_PATH}orgs/{school['sourcedId']}")

    def test_a_quirky_tenant_keeps_classlinks_host_with_the_1_2_path(
        self, server: SimulatorServer, http: httpx.Client, district
    ) -> None:
        server.add_tenant(Tenant("quirky", district, KEY, SECRET, quirks=True))
        token = http.post(
            server.token_url("quirky"),
            data={"grant_type": "client_credentials", "scope": ROSTER_CORE},
            headers={"Authorization": basic()},
        ).json()["access_token"]
        response = http.get(
            f"{server.v1p2_base_url('quirky')}/classes",
            params={"limit": 5},
            headers={"Authorization": f"Bearer {token}"},
        )
        found = hrefs(response.json())
        assert found and all(h.startswith(QUIRK_HOST + V1P2_PATH) for h in found), found[:3]

    def test_the_1_1_door_keeps_its_1_1_hrefs(self, api) -> None:
        found = hrefs(api.get("/classes", [("limit", "5")]).json())
        assert found and all("/ims/oneroster/v1p1/" in href for href in found)


class TestSelectionFields:
    """1.2: an invalid selection field is a 400 `invalid_selection_field` (failure/error)."""

    @pytest.mark.parametrize("fields", ["shoeSize", "sourcedId,shoeSize", "role", "orgs"])
    def test_unknown_user_fields_are_refused(self, v1p2: V1p2, fields: str) -> None:
        response = v1p2.get("/users", fields=fields)
        assert response.status_code == 400
        body = response.json()
        assert "statusInfoSet" not in body
        assert (body["imsx_codeMajor"], body["imsx_severity"]) == ("failure", "error")
        assert code_minor(body) == "invalid_selection_field"
        unknown = [name for name in fields.split(",") if name != "sourcedId"]
        assert all(name in body["imsx_description"] for name in unknown)

    def test_singletons_and_relationships_refuse_them_too(
        self, v1p2: V1p2, server: SimulatorServer
    ) -> None:
        klass = server.tenant(TENANT).data.classes[0]["sourcedId"]
        for path in (f"/classes/{klass}", f"/classes/{klass}/students"):
            response = v1p2.get(path, fields="shoeSize")
            assert response.status_code == 400, path
            assert code_minor(response.json()) == "invalid_selection_field"

    def test_known_fields_select_with_no_status_in_the_payload(self, v1p2: V1p2) -> None:
        response = v1p2.get("/users", fields="sourcedId,roles", limit=5)
        assert response.status_code == 200
        body = response.json()
        assert list(body) == ["users"]
        assert all(set(u) == {"sourcedId", "roles"} for u in body["users"])


class TestSortField:
    """1.2 has no `invalid_sort_field` and no status in a success: an unknown sort is ignored."""

    def test_unknown_sort_field_keeps_the_default_order_silently(self, v1p2: V1p2) -> None:
        plain = v1p2.get("/orgs").json()
        sorted_by_nothing = v1p2.get("/orgs", sort="shoeSize")
        assert sorted_by_nothing.status_code == 200
        assert sorted_by_nothing.json() == plain
