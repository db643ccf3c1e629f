"""The Clever relying party: the authorize URL, the code exchange, and who signed in.

Clever's SSO is OAuth 2.0's authorization code flow; an app that Clever configured for OpenID
Connect also gets an `id_token` from the code exchange. This module speaks it for the vendor's one
Clever app (`clever_client_id`, `clever_client_secret`):

    authorization_url   {clever_oauth_url}/oauth/authorize, code flow, our redirect URI, state,
                        nonce and, when the login page chose one, `district_id`
    sign_in             POST {clever_oauth_url}/oauth/tokens with HTTP Basic (the app's id and
                        secret go nowhere else), then the person: from the id_token when there is
                        one (RS256 against the JWKS of Clever's discovery document; iss, aud, exp,
                        iat, nonce), else from GET {clever_api_url}/v3.0/me with the user's token

Clever's issuer is https://clever.com, which is also its OAuth URL. The discovery document is read
from the configured OAuth URL and must name as issuer either that URL or https://clever.com; every
id_token must then name exactly that issuer. Nothing is logged here: codes, tokens and the secret
never reach a log line. Each refusal is a `SignInRefused` with a reason code and a reference of
its own, in Clever's words.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc.jwk import KeySet

from rostersync.errors import ConfigError
from rostersync.signin.id_tokens import SigningKeys, plain_subject, verify
from rostersync.signin.oidc import SignInRefused

CLEVER_ISSUER = "https://clever.com"  # the `iss` of Clever's id_tokens (and its OAuth URL)
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/tokens"  # noqa: S105 (a path, not a secret)
ME_PATH = "/v3.0/me"
DISCOVERY_PATH = "/.well-known/openid-configuration"


def clever_failure(reason: str, *, subject: str | None = None) -> SignInRefused:
    """The refusal for anything wrong between us and Clever: the person can only retry."""
    return SignInRefused(
        "Clever and the Educator Portal could not complete your sign-in. Go back to the login "
        "page and try again; if it keeps happening, tell your school's technology contact and "
        "quote the reference below.",
        reason=f"clever_{reason}",
        subject=subject,
    )


@dataclass(frozen=True, slots=True)
class CleverUser:
    """Who Clever says signed in: their Clever user id and their Clever district id."""

    user_id: str
    district: str
    via: str  # "id_token" or "me"


def _authority(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"Clever sign-in needs ROSTERSYNC_CLEVER_OAUTH_URL and ROSTERSYNC_CLEVER_API_URL as "
            f"http(s) URLs with a host, not {url!r}"
        )
    return url.rstrip("/")


class CleverRelyingParty:
    """Signs people in through the vendor's Clever app.

    Args:
        oauth_url: Clever's OAuth URL (authorize, tokens, discovery); the only place the client
            secret is sent.
        api_url: Clever's API URL (`/v3.0/me`).
        client_id: The app's client id.
        client_secret: The app's client secret (HTTP Basic at the token endpoint).
        redirect_uri: Our Clever callback, from configuration (never from `Host`).
        timeout: Seconds for each request to Clever.
        clock: Current Unix time in seconds.
        jwks_refetch_interval: At most one JWKS refetch on an unknown `kid` per this many seconds.
        transport: An httpx transport (tests); the default talks to the network.
    """

    def __init__(
        self,
        *,
        oauth_url: str,
        api_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        jwks_refetch_interval: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "Clever sign-in is not configured: set ROSTERSYNC_CLEVER_CLIENT_ID and "
                "ROSTERSYNC_CLEVER_CLIENT_SECRET to the Clever app's credentials"
            )
        self.oauth_url = _authority(oauth_url)
        self.api_url = _authority(api_url)
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.clock = clock
        self.jwks_refetch_interval = jwks_refetch_interval
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys = SigningKeys(
            self._fetch_keys, clock=clock, refetch_interval=jwks_refetch_interval
        )

    @property
    def jwks_fetches(self) -> int:
        """How many times the JWKS was fetched, for tests."""
        return self._keys.fetches

    def __repr__(self) -> str:
        return f"CleverRelyingParty(oauth_url={self.oauth_url!r}, client_id={self.client_id!r})"

    @property
    def issuer(self) -> str:
        """What a login's state record keeps as its provider: the Clever OAuth URL we send to."""
        return self.oauth_url

    def close(self) -> None:
        self._http.close()

    # The flow ----------------------------------------------------------------------------------
    def authorization_url(self, *, state: str, nonce: str, district: str | None) -> str:
        """Where to send the browser: the code flow at Clever, for one Clever district if known."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "nonce": nonce,
        }
        if district:
            query["district_id"] = district
        return f"{self.oauth_url}{AUTHORIZE_PATH}?{urlencode(query)}"

    def sign_in(self, code: str, *, nonce: str, login_started_at: float) -> CleverUser:
        """Exchange the code and say who signed in (id_token when sent, else `/v3.0/me`).

        Raises:
            SignInRefused: Any protocol failure, with a reason code.
        """
        token = self._exchange(code)
        id_token = token.get("id_token")
        if isinstance(id_token, str) and id_token:
            claims = self.verify_id_token(id_token, nonce=nonce, login_started_at=login_started_at)
            user_id = plain_subject(claims.get("multi_role_user_id") or claims["sub"])
            district = plain_subject(claims.get("district"))
            if user_id is None or district is None:
                raise clever_failure("id_token_without_district", subject=claims["sub"])
            return CleverUser(user_id=user_id, district=district, via="id_token")
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise clever_failure("token_without_access_token")
        return self._me(access)

    def _exchange(self, code: str) -> dict[str, Any]:
        basic = base64.b64encode(f"{self.client_id}:{self._client_secret}".encode()).decode()
        try:
            response = self._http.post(
                f"{self.oauth_url}{TOKEN_PATH}",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                },
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            )
        except httpx.TimeoutException:
            raise clever_failure("token_timeout") from None
        except httpx.HTTPError:
            raise clever_failure("token_unreachable") from None
        if response.status_code != 200:
            raise clever_failure(f"token_http_{response.status_code}")
        try:
            token = response.json()
        except ValueError:
            raise clever_failure("token_not_json") from None
        if not isinstance(token, dict):
            raise clever_failure("token_not_json")
        return token

    def _me(self, access_token: str) -> CleverUser:
        try:
            response = self._http.get(
                f"{self.api_url}{ME_PATH}",
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        except httpx.HTTPError:
            raise clever_failure("me_unreachable") from None
        if response.status_code != 200:
            raise clever_failure(f"me_http_{response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise clever_failure("me_not_json") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or body.get("type") != "user":
            raise clever_failure("me_not_a_user")
        user_id, district = plain_subject(data.get("id")), plain_subject(data.get("district"))
        if user_id is None or district is None:
            raise clever_failure("me_without_district")
        return CleverUser(user_id=user_id, district=district, via="me")

    # Discovery, keys and the id_token ----------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Clever's discovery document, read once from the OAuth URL.

        Raises:
            SignInRefused: It cannot be read, or names an issuer that is neither the OAuth URL
                nor https://clever.com.
        """
        with self._lock:
            if self._metadata is not None:
                return self._metadata
        try:
            response = self._http.get(f"{self.oauth_url}{DISCOVERY_PATH}")
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError):
            raise clever_failure("discovery_unreachable") from None
        issuer = document.get("issuer") if isinstance(document, dict) else None
        if issuer not in (self.oauth_url, CLEVER_ISSUER) or not isinstance(
            document.get("jwks_uri"), str
        ):
            raise clever_failure("discovery_issuer_mismatch")
        checked: dict[str, Any] = document
        with self._lock:
            self._metadata = checked
        return checked

    def _fetch_keys(self) -> KeySet:
        response = self._http.get(self.metadata()["jwks_uri"])
        response.raise_for_status()
        return KeySet.import_key_set(response.json())

    def verify_id_token(
        self, id_token: str, *, nonce: str, login_started_at: float
    ) -> dict[str, Any]:
        """Verify the id_token's signature and claims (`signin.id_tokens.verify`) against the
        issuer Clever's discovery document names.

        Raises:
            SignInRefused: The token fails any check; `reason` names which.
        """
        return verify(
            id_token,
            self._keys,
            issuer=self.metadata()["issuer"],
            client_id=self.client_id,
            nonce=nonce,
            login_started_at=login_started_at,
            refuse=clever_failure,
        )
