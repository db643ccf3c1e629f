"""OAuth 2 bearer authenticators: client credentials (OneRoster 1.2) and static bearers (proxy).

    OAuth2ClientCredentials   POST token_url grant_type=client_credentials&scope=…, client auth by
                              HTTP Basic (default) or form fields; the token is cached until shortly
                              before `expires_in` runs out and fetched again on a 401 (`refresh`)
    BearerAuth                a token handed to us (the ClassLink proxy's per-district bearer),
                              optionally renewable through a callback

Both fit `OneRosterClient` as `RefreshableAuth`. Secrets and tokens never appear in a `repr`, a log
line or an error message.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from rostersync.errors import (
    ConfigError,
    FatalSourceError,
    RetriableSourceError,
    SourceAuthError,
)
from rostersync.oneroster.http import PooledHttp, open_http

__all__ = [
    "ROSTER_CORE_SCOPE",
    "ROSTER_DEMOGRAPHICS_SCOPE",
    "ROSTER_SCOPE",
    "BearerAuth",
    "OAuth2ClientCredentials",
    "Token",
]

_SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
ROSTER_CORE_SCOPE = _SCOPE_PREFIX + "roster-core.readonly"
ROSTER_SCOPE = _SCOPE_PREFIX + "roster.readonly"
ROSTER_DEMOGRAPHICS_SCOPE = _SCOPE_PREFIX + "roster-demographics.readonly"

# Renew this long before the server's expiry, so a token never dies between header and arrival.
_EXPIRY_MARGIN = 30.0
# A server that omits `expires_in`: assume an hour, and rely on refresh-on-401 if it is shorter.
_DEFAULT_LIFETIME = 3600.0


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and the monotonic time after which it is not used any more."""

    value: str
    expires_at: float
    scope: str = ""

    def __repr__(self) -> str:
        return f"Token(value='***', expires_at={self.expires_at!r}, scope={self.scope!r})"


def _form(pairs: Iterable[tuple[str, str]]) -> str:
    # application/x-www-form-urlencoded, as RFC 6749 wants for the token request and Basic parts.
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


class OAuth2ClientCredentials(PooledHttp):
    """OAuth 2 client-credentials grant (RFC 6749 §4.4), as OneRoster 1.2 requires.

    Args:
        token_url: The token endpoint, e.g. `https://x.rosterserver.com/token`.
        client_id: The client id (ClassLink's key).
        client_secret: The client secret.
        scopes: Scope URIs to request; OneRoster 1.2 core reads need `roster-core.readonly`.
        client_auth: "basic" (HTTP Basic, most servers) or "form" (id and secret in the body).
        timeout: Seconds for the token request.
        transport: An httpx transport (tests inject one).
        clock: Monotonic seconds, for expiry (injected by tests).

    Raises:
        ConfigError: The URL, id, secret or client_auth is unusable.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: Iterable[str] = (ROSTER_CORE_SCOPE,),
        client_auth: str = "basic",
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(token_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"OAuth 2 token URL {token_url!r} is not an http(s) URL with a host; it looks "
                "like https://<tenant>.rosterserver.com/token"
            )
        if not client_id:
            raise ConfigError("the OneRoster client id is empty; copy it from ClassLink")
        if not client_secret:
            raise ConfigError("the OneRoster client secret is empty; copy it from ClassLink")
        if client_auth not in ("basic", "form"):
            raise ConfigError("OAuth 2 client authentication must be 'basic' or 'form'")
        self.token_url = token_url
        self.scopes = tuple(scopes)
        self.tokens_fetched = 0
        self._client_id = client_id
        self._client_secret = client_secret
        self._client_auth = client_auth
        self._clock = clock
        self._token: Token | None = None
        self._lock = threading.Lock()
        self._http = open_http(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials({self.token_url!r}, client_id={self._client_id!r}, "
            f"client_secret='***', scopes={self.scopes!r})"
        )

    def headers_for(self, method: str, url: str) -> dict[str, str]:
        """`Authorization: Bearer <token>`, fetching a token when none is cached or it expired.

        Raises:
            SourceAuthError: The token endpoint refused the client id, secret or scopes.
            RetriableSourceError: The token endpoint was unreachable or answered 429/5xx.
            FatalSourceError: The token endpoint answered something that is not a token.
        """
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at:
                token = self._token = self._fetch()
        return {"Authorization": f"Bearer {token.value}"}

    def refresh(self) -> None:
        """Forget the cached token and fetch a new one (the client calls this on a 401)."""
        with self._lock:
            self._token = None
            self._token = self._fetch()

    def explain(self, error: SourceAuthError) -> SourceAuthError:
        """A refusal with a token fresh from the token endpoint: name what to check."""
        scopes = " ".join(s.removeprefix(_SCOPE_PREFIX) for s in self.scopes)
        if error.status == 403:
            credential = "scopes"
            advice = (
                f"the OneRoster 1.2 server refused a fresh access token for {error.url} "
                f"(HTTP 403): the client is not granted the scope this read needs (asked for: "
                f"{scopes}); ask the district to grant the rostering scopes to this client id"
            )
        else:
            credential = "client id and secret"
            advice = (
                f"the OneRoster 1.2 server refused a fresh access token for {error.url} "
                f"(HTTP {error.status}) even after a new token was fetched from "
                f"{urlsplit(self.token_url).netloc}; check that the client id and secret belong "
                "to this district's server and that the token URL is its own"
            )
        return SourceAuthError(
            f"{advice} ({error})", credential=credential, url=error.url, status=error.status
        )

    def _fetch(self) -> Token:
        form = [("grant_type", "client_credentials")]
        if self.scopes:
            form.append(("scope", " ".join(self.scopes)))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self._client_auth == "basic":
            # RFC 6749 §2.3.1: each half is form-encoded before Basic joins them.
            pair = f"{quote(self._client_id, safe='')}:{quote(self._client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form += [("client_id", self._client_id), ("client_secret", self._client_secret)]
        where = urlsplit(self.token_url)
        path = where.path or "/"
        try:
            response = self._http.post(
                self.token_url, content=_form(form).encode("ascii"), headers=headers
            )
        except httpx.HTTPError as exc:
            raise RetriableSourceError(
                f"the OAuth 2 token endpoint {where.netloc} did not answer "
                f"({type(exc).__name__}); the sync can be retried later",
                url=path,
            ) from exc
        self.tokens_fetched += 1
        return self._token_from(response, where.netloc, path)

    def _token_from(self, response: httpx.Response, host: str, path: str) -> Token:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if status == 429 or status >= 500:
            raise RetriableSourceError(
                f"the OAuth 2 token endpoint {host} answered HTTP {status}; the sync can be "
                "retried later",
                url=path,
                status=status,
            )
        if error == "invalid_scope":
            raise SourceAuthError(
                f"the OAuth 2 token endpoint {host} does not grant the scopes asked for "
                f"({' '.join(self.scopes)}); ask the district to grant the OneRoster rostering "
                "scopes to this client id",
                credential="scopes",
                url=path,
                status=status,
            )
        if status in (400, 401, 403) and error in (None, "invalid_client", "unauthorized_client"):
            raise SourceAuthError(
                f"the OAuth 2 token endpoint {host} refused the client id and secret (HTTP "
                f"{status}, {error or 'no error code'}); check the client id and secret in the "
                "district's integration settings",
                credential="client id and secret",
                url=path,
                status=status,
            )
        if status != 200 or not isinstance(body, dict):
            raise FatalSourceError(
                f"the OAuth 2 token endpoint {host} answered HTTP {status} "
                f"({error or 'no token'}); check the token URL in the district's settings",
                url=path,
                status=status,
            )
        value = body.get("access_token")
        kind = str(body.get("token_type", "bearer"))
        if not isinstance(value, str) or not value or kind.lower() != "bearer":
            raise FatalSourceError(
                f"the OAuth 2 token endpoint {host} answered without a bearer access_token; "
                "check the token URL in the district's settings",
                url=path,
                status=status,
            )
        seconds = _lifetime(body.get("expires_in"))
        # A very short lifetime still yields a usable token: never a margin beyond half of it.
        margin = min(_EXPIRY_MARGIN, seconds / 2)
        return Token(value, self._clock() + seconds - margin, str(body.get("scope", "")))


def _lifetime(value: object) -> float:
    # `expires_in` is a number by RFC 6749, but some servers send it as a string.
    if isinstance(value, bool):
        return _DEFAULT_LIFETIME
    if isinstance(value, int | float) and value > 0:
        return float(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return float(value)
    return _DEFAULT_LIFETIME


class BearerAuth:
    """A bearer token given to us, e.g. a ClassLink proxy district's `bearer`.

    Args:
        token: The bearer token.
        renew: Returns a new token when the current one is refused (the proxy re-reads
            `/applications`); without it a 401 is final.
        credential: What to tell the user to check when the token is refused.
        advice: The sentence saying how to fix a refusal, used in the error message.

    Raises:
        ConfigError: The token is empty.
    """

    __slots__ = ("_advice", "_credential", "_renew", "_token")

    def __init__(
        self,
        token: str,
        *,
        renew: Callable[[], str] | None = None,
        credential: str = "bearer token",
        advice: str = "check the bearer token in the district's integration settings",
    ) -> None:
        if not token:
            raise ConfigError("the bearer token is empty")
        self._token = token
        self._renew = renew
        self._credential = credential
        self._advice = advice

    def headers_for(self, method: str, url: str) -> dict[str, str]:
        """`Authorization: Bearer <token>`."""
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> None:
        """Ask `renew` for a new token; without one, keep the token (the retry will fail)."""
        if self._renew is not None:
            self._token = self._renew()

    def explain(self, error: SourceAuthError) -> SourceAuthError:
        """The refusal, naming the bearer's credential and how to fix it."""
        return SourceAuthError(
            f"{self._advice} (HTTP {error.status} for {error.url})",
            credential=self._credential,
            url=error.url,
            status=error.status,
        )

    def __repr__(self) -> str:
        return f"BearerAuth(token='***', credential={self._credential!r})"
