"""OneRoster 1.2 over real HTTP: the token endpoint, 1.2 shapes and errors, token expiry."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from tests.integration.protocols.conftest import KEY, SECRET, TENANT

from rostersync.errors import SourceAuthError
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.oauth2 import (
    ROSTER_CORE_SCOPE,
    ROSTER_SCOPE,
    OAuth2ClientCredentials,
)
from rostersync.simulator import SimulatorServer, Tenant
from rostersync.sync.rest_sources import oneroster_v1p2_source


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token(server: SimulatorServer, http: httpx.Client, scope: str = ROSTER_CORE_SCOPE) -> str:
    response = http.post(
        server.token_url(TENANT),
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": basic(KEY, SECRET)},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class TestTokenEndpoint:
    """`POST /{tenant}/token` grants client-credentials tokens for the rostering scopes."""

    def test_basic_client_auth_gets_a_bearer_with_expiry_and_scope(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        response = http.post(
            server.token_url(TENANT),
            data={"grant_type": "client_credentials", "scope": ROSTER_CORE_SCOPE},
            headers={"Authorization": basic(KEY, SECRET)},
        )
        body = response.json()
        assert response.status_code == 200
        assert body["token_type"] == "bearer"
        assert body["expires_in"] > 0
        assert body["scope"] == ROSTER_CORE_SCOPE

    def test_form_client_auth_is_accepted_too(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        response = http.post(
            server.token_url(TENANT),
            data={"grant_type": "client_credentials", "client_id": KEY, "client_secret": SECRET},
        )
        assert response.status_code == 200
        assert response.json()["access_token"]

    @pytest.mark.parametrize(
        ("form", "authorization", "status", "error"),
        [
            ({"grant_type": "client_credentials"}, basic(KEY, "wrong"), 401, "invalid_client"),
            ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
            ({"grant_type": "password"}, basic(KEY, SECRET), 400, "unsupported_grant_type"),
            (
                {"grant_type": "client_credentials", "scope": "https://x.example/other"},
                basic(KEY, SECRET),
                400,
                "invalid_scope",
            ),
        ],
    )
    def test_refusals_use_rfc6749_error_codes(
        self,
        server: SimulatorServer,
        http: httpx.Client,
        form: dict[str, str],
        authorization: str | None,
        status: int,
        error: str,
    ) -> None:
        headers = {"Authorization": authorization} if authorization else {}
        response = http.post(server.token_url(TENANT), data=form, headers=headers)
        assert (response.status_code, response.json()["error"]) == (status, error)


class TestV1p2Rostering:
    """Users come in 1.2 shape, orgs carry identifiers, and errors are bare imsx_StatusInfo."""

    def test_users_have_roles_and_primary_org_and_no_role_or_orgs(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        bearer = {"Authorization": f"Bearer {token(server, http)}"}
        users = http.get(
            f"{server.v1p2_base_url(TENANT)}/users", params={"limit": 500}, headers=bearer
        ).json()["users"]
        assert users
        for user in users:
            assert "role" not in user and "orgs" not in user
            assert user["roles"] and all(r["roleType"] == "primary" for r in user["roles"])
            assert user["primaryOrg"]["sourcedId"] == user["roles"][0]["org"]["sourcedId"]
        roles = {r["role"] for u in users for r in u["roles"]}
        assert {"districtAdministrator", "siteAdministrator", "student", "teacher"} <= roles
        assert "administrator" not in roles

    def test_students_endpoint_filters_on_the_roles_list(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        bearer = {"Authorization": f"Bearer {token(server, http)}"}
        response = http.get(
            f"{server.v1p2_base_url(TENANT)}/students", params={"limit": 10}, headers=bearer
        )
        assert response.status_code == 200
        assert (
            int(response.headers["X-Total-Count"])
            == server.tenant(TENANT).data.counts()["students"]
        )
        assert {u["roles"][0]["role"] for u in response.json()["users"]} == {"student"}

    def test_orgs_carry_their_identifier(self, server: SimulatorServer, http: httpx.Client) -> None:
        bearer = {"Authorization": f"Bearer {token(server, http)}"}
        orgs = http.get(f"{server.v1p2_base_url(TENANT)}/orgs", headers=bearer).json()["orgs"]
        assert orgs and all(o["identifier"] for o in orgs)

    def test_unknown_object_is_a_bare_imsx_status_info(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        bearer = {"Authorization": f"Bearer {token(server, http)}"}
        response = http.get(f"{server.v1p2_base_url(TENANT)}/users/nobody", headers=bearer)
        body = response.json()
        assert response.status_code == 404
        assert "statusInfoSet" not in body
        assert (body["imsx_codeMajor"], body["imsx_severity"]) == ("failure", "error")
        field = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]
        assert field["imsx_codeMinorFieldValue"] == "unknownobject"

    def test_relationship_paths_need_the_roster_scope(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        school = next(o for o in server.tenant(TENANT).data.orgs if o["type"] == "school")
        url = f"{server.v1p2_base_url(TENANT)}/schools/{school['sourcedId']}/students"
        core = http.get(url, headers={"Authorization": f"Bearer {token(server, http)}"})
        full = http.get(
            url, headers={"Authorization": f"Bearer {token(server, http, ROSTER_SCOPE)}"}
        )
        assert core.status_code == 403
        assert full.status_code == 200 and full.json()["users"]
        assert all(u["roles"][0]["role"] == "student" for u in full.json()["users"])


class TestTokenLifecycle:
    """The client caches its token, refreshes an expired one once, and names what to check."""

    def test_an_expired_token_is_refreshed_once_and_the_sync_completes(
        self, server: SimulatorServer
    ) -> None:
        source = oneroster_v1p2_source(server.v1p2_base_url(TENANT), KEY, SECRET, page_size=50)
        records = source.records()
        first = [next(records) for _ in range(3)]
        assert server.tokens.issued(TENANT) == 1
        # Every token dies mid-pull; the next page's 401 must lead to exactly one new token.
        assert server.tokens.expire(TENANT) == 1
        rest = list(records)
        assert len(first) + len(rest) == sum(source.stats.records.values())
        assert server.tokens.issued(TENANT) == 2
        assert source.stats.retries == 1
        assert source.complete_kinds()

    def test_a_token_is_reused_across_pages(self, server: SimulatorServer) -> None:
        source = oneroster_v1p2_source(server.v1p2_base_url(TENANT), KEY, SECRET, page_size=50)
        list(source.records())
        assert source.stats.requests > 10
        assert server.tokens.issued(TENANT) == 1

    def test_a_wrong_client_secret_names_the_client_id_and_secret(
        self, server: SimulatorServer
    ) -> None:
        source = oneroster_v1p2_source(server.v1p2_base_url(TENANT), KEY, "not-the-secret")
        with pytest.raises(SourceAuthError) as caught:
            list(source.records())
        assert caught.value.credential == "client id and secret"
        assert "client id and secret" in str(caught.value)
        assert "not-the-secret" not in str(caught.value)

    def test_a_401_that_a_new_token_does_not_cure_names_the_credential(
        self, server: SimulatorServer
    ) -> None:
        # A token from another tenant's endpoint is a fresh, valid token the server still refuses.
        other = "elsewhere"
        server.add_tenant(Tenant(other, server.tenant(TENANT).data, KEY, SECRET))
        auth = OAuth2ClientCredentials(server.token_url(other), KEY, SECRET)
        with (
            OneRosterClient(server.v1p2_base_url(TENANT), auth, max_retries=0) as client,
            pytest.raises(SourceAuthError) as caught,
        ):
            list(client.iter_collection("orgs"))
        assert caught.value.status == 401
        assert caught.value.credential == "client id and secret"
        assert "refused a fresh access token" in str(caught.value)
        assert auth.tokens_fetched == 2
        auth.close()
