"""OAuth 2 client credentials and bearer auth: cached tokens, one refresh on 401, clear refusals."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from rostersync.errors import ConfigError, RetriableSourceError, SourceAuthError
from rostersync.oneroster.auth import RefreshableAuth
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.oauth2 import (
    ROSTER_CORE_SCOPE,
    ROSTER_SCOPE,
    BearerAuth,
    OAuth2ClientCredentials,
)

TOKEN_URL = "https://district.example/token"
BASE = "https://district.example/ims/oneroster/rostering/v1p2"
CLIENT_ID, CLIENT_SECRET = "client id+1", "s3cr&t:value"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """A token endpoint and a rostering API that accepts only the newest token."""

    def __init__(self, *, expires_in: Any = 600, token_status: int = 200, error: str = "") -> None:
        self.expires_in = expires_in
        self.token_status = token_status
        self.error = error
        self.token_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        self.valid: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            self.token_requests.append(request)
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": self.error})
            token = f"tok-{len(self.token_requests)}"
            self.valid = {token}
            body = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            return httpx.Response(200, json=body)
        self.api_requests.append(request)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.valid:
            return httpx.Response(401, json={"imsx_codeMajor": "failure"})
        return httpx.Response(200, json={"orgs": [{"sourcedId": "org-1"}]})

    def form(self, n: int = 0) -> dict[str, str]:
        return dict(parse_qsl(self.token_requests[n].content.decode()))


def auth_for(server: TokenServer, clock: Clock | None = None, **kw: Any) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        TOKEN_URL,
        CLIENT_ID,
        CLIENT_SECRET,
        transport=httpx.MockTransport(server),
        clock=clock or Clock(),
        **kw,
    )


class TestTokenRequest:
    """The token request is a client-credentials grant with the client authenticated as asked."""

    def test_basic_client_auth_form_encodes_each_half(self) -> None:
        server = TokenServer()
        auth_for(server, scopes=(ROSTER_CORE_SCOPE, ROSTER_SCOPE)).headers_for("GET", BASE)
        request = server.token_requests[0]
        scheme, _, value = request.headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(value).decode() == "client%20id%2B1:s3cr%26t%3Avalue"
        assert server.form() == {
            "grant_type": "client_credentials",
            "scope": f"{ROSTER_CORE_SCOPE} {ROSTER_SCOPE}",
        }

    def test_form_client_auth_sends_the_credentials_in_the_body(self) -> None:
        server = TokenServer()
        auth_for(server, client_auth="form").headers_for("GET", BASE)
        assert "Authorization" not in server.token_requests[0].headers
        assert server.form()["client_id"] == CLIENT_ID
        assert server.form()["client_secret"] == CLIENT_SECRET

    def test_unknown_client_auth_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError):
            OAuth2ClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET, client_auth="jwt")


class TestTokenCache:
    """A token is reused until shortly before it expires, and replaced on `refresh`."""

    def test_reused_until_expiry_then_fetched_again(self) -> None:
        server, clock = TokenServer(expires_in=600), Clock()
        auth = auth_for(server, clock)
        first = auth.headers_for("GET", BASE)
        clock.now += 500
        assert auth.headers_for("GET", BASE) == first
        clock.now += 80  # within the 30 s margin before expiry
        assert auth.headers_for("GET", BASE) != first
        assert len(server.token_requests) == 2

    def test_expires_in_as_a_string_is_honoured(self) -> None:
        server, clock = TokenServer(expires_in="120"), Clock()
        auth = auth_for(server, clock)
        auth.headers_for("GET", BASE)
        clock.now += 80
        auth.headers_for("GET", BASE)
        assert len(server.token_requests) == 1
        clock.now += 20  # past 120 s less the margin: an hour's default would still be cached
        auth.headers_for("GET", BASE)
        assert len(server.token_requests) == 2

    def test_refresh_fetches_a_new_token(self) -> None:
        server = TokenServer()
        auth = auth_for(server)
        before = auth.headers_for("GET", BASE)
        auth.refresh()
        assert auth.headers_for("GET", BASE) != before
        assert auth.tokens_fetched == 2

    def test_repr_shows_neither_secret_nor_token(self) -> None:
        auth = auth_for(TokenServer())
        auth.headers_for("GET", BASE)
        assert CLIENT_SECRET not in repr(auth) and "tok-" not in repr(auth)
        assert isinstance(auth, RefreshableAuth)


class TestTokenRefusals:
    """Token endpoint refusals become errors naming what to check."""

    @pytest.mark.parametrize(
        ("status", "error", "credential"),
        [
            (401, "invalid_client", "client id and secret"),
            (400, "invalid_scope", "scopes"),
            (400, "unauthorized_client", "client id and secret"),
        ],
    )
    def test_auth_refusals_name_the_credential(
        self, status: int, error: str, credential: str
    ) -> None:
        auth = auth_for(TokenServer(token_status=status, error=error))
        with pytest.raises(SourceAuthError) as caught:
            auth.headers_for("GET", BASE)
        assert caught.value.credential == credential
        assert CLIENT_SECRET not in str(caught.value)

    def test_a_busy_token_endpoint_is_retriable(self) -> None:
        auth = auth_for(TokenServer(token_status=503))
        with pytest.raises(RetriableSourceError):
            auth.headers_for("GET", BASE)


class TestClientRefreshOn401:
    """`OneRosterClient` refreshes a refreshable auth once on 401, then gives up clearly."""

    def test_a_stale_token_is_refreshed_once_and_the_pull_completes(self) -> None:
        server = TokenServer()
        auth = auth_for(server)
        auth.headers_for("GET", BASE)
        server.valid = {"rotated-away"}  # the server forgot our token: the next call is a 401
        transport = httpx.MockTransport(server)
        with OneRosterClient(BASE, auth, transport=transport, max_retries=0) as client:
            orgs = list(client.iter_collection("orgs"))
        assert [o["sourcedId"] for o in orgs] == ["org-1"]
        assert len(server.token_requests) == 2
        assert client.stats.retries == 1

    def test_a_refusal_a_new_token_does_not_cure_names_the_client_credentials(self) -> None:
        server = TokenServer()
        auth = auth_for(server)

        def refuse_api(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                return server(request)
            return httpx.Response(401, json={"imsx_codeMajor": "failure"})

        transport = httpx.MockTransport(refuse_api)
        with (
            OneRosterClient(BASE, auth, transport=transport, max_retries=0) as client,
            pytest.raises(SourceAuthError) as caught,
        ):
            list(client.iter_collection("orgs"))
        assert caught.value.credential == "client id and secret"
        assert len(server.token_requests) == 2  # the first token and exactly one refresh

    def test_a_403_names_the_scopes(self) -> None:
        server = TokenServer()

        def forbid(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                return server(request)
            return httpx.Response(403, json={"imsx_codeMajor": "failure"})

        auth = auth_for(server)
        with (
            OneRosterClient(BASE, auth, transport=httpx.MockTransport(forbid)) as client,
            pytest.raises(SourceAuthError) as caught,
        ):
            list(client.iter_collection("orgs"))
        assert caught.value.credential == "scopes"
        assert len(server.token_requests) == 1


class TestBearerAuth:
    """A static bearer renews through its callback, or fails naming its credential."""

    def test_renew_supplies_the_next_token(self) -> None:
        tokens = iter(["second"])
        auth = BearerAuth("first", renew=lambda: next(tokens))
        assert auth.headers_for("GET", BASE) == {"Authorization": "Bearer first"}
        auth.refresh()
        assert auth.headers_for("GET", BASE) == {"Authorization": "Bearer second"}
        assert "first" not in repr(auth) and "second" not in repr(auth)

    def test_without_renew_a_401_names_the_credential(self) -> None:
        auth = BearerAuth("tok", credential="proxy bearer", advice="re-share the district")
        refuse = httpx.MockTransport(lambda r: httpx.Response(401, json={}))
        with (
            OneRosterClient(BASE, auth, transport=refuse) as client,
            pytest.raises(SourceAuthError) as caught,
        ):
            list(client.iter_collection("orgs"))
        assert caught.value.credential == "proxy bearer"
        assert "re-share the district" in str(caught.value)

    def test_an_empty_token_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError):
            BearerAuth("")
