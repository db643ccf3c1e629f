"""The ClassLink OpenID Connect relying party: authorization URL, code exchange, id_token checks.

Authlib builds the protocol messages (the authorization request, the token request, the PKCE S256
challenge) and joserfc verifies the id_token; nothing here parses or checks a JWT by hand. What we
add on top are the rules security.md §1.2 asks for that the libraries leave to the caller: RS256
only, `aud` exactly our client, `azp` our client when present, `iat` not older than the login, a
nonce that matches, one JWKS refetch on an unknown `kid` (rate-limited), and the ClassLink user's
tenant and sourcedId from the token claims or `/v2/my/info`.

Nothing is logged here: codes, tokens and the client secret never reach a log line. Each refusal
carries a reference of its own and, once a signed token names one, the ClassLink subject; the page
shows the reference and `rostersync.refusals` logs it (with a hash of the subject, never the
subject).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import KeySet

from rostersync.errors import ConfigError, RosterSyncError
from rostersync.refusals import new_reference
from rostersync.signin.id_tokens import ALGORITHMS as ALGORITHMS
from rostersync.signin.id_tokens import LEEWAY_SECONDS as LEEWAY_SECONDS
from rostersync.signin.id_tokens import SigningKeys, verify

SCOPE = "openid profile email"


class SignInRefused(RosterSyncError):
    """A sign-in that must not complete; the message says what the person can do.

    Attributes:
        reason: A short code for support and tests (no personal data), e.g. "tenant_mismatch".
        title: The heading of the page the person sees.
        reference: This refusal's own reference, shown on the page and logged with it.
        district_id: The district the sign-in was for, when known.
        subject: The ClassLink subject of a token that was signed by ClassLink, when one was;
            only ever logged as a keyed hash.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        title: str = "We couldn't sign you in",
        subject: str | None = None,
    ):
        super().__init__(message)
        self.reason = reason
        self.title = title
        self.reference = new_reference()
        self.district_id: str | None = None
        self.subject = subject


class DiscoveryError(ConfigError):
    """ClassLink's discovery document could not be read, or names another issuer."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def protocol_failure(reason: str, *, subject: str | None = None) -> SignInRefused:
    """The refusal for anything wrong between us and ClassLink: the person can only retry."""
    return SignInRefused(
        "ClassLink and the Educator Portal could not complete your sign-in. Go back to the "
        "login page and try again; if it keeps happening, tell your school's technology "
        "contact and quote the reference below.",
        reason=reason,
        subject=subject,
    )


@dataclass(frozen=True, slots=True)
class ClassLinkUser:
    """Who ClassLink says signed in: the only facts we use to find their account."""

    subject: str
    tenant_id: str
    sourced_id: str
    role: str


class RelyingParty:
    """Talks OpenID Connect to one ClassLink issuer for one registered client.

    Args:
        issuer: The configured issuer; discovery and every id_token must name it exactly.
        client_id: Our client id at ClassLink.
        client_secret: Our client secret (sent with client_secret_post).
        redirect_uri: The one registered redirect URI, from configuration (never from `Host`).
        userinfo_url: ClassLink's `/v2/my/info`.
        timeout: Seconds for each request to ClassLink.
        clock: Current Unix time in seconds.
        jwks_refetch_interval: At most one JWKS refetch on an unknown `kid` per this many
            seconds, so a flood of forged kids cannot make us hammer ClassLink.
        transport: An httpx transport (tests); the default talks to the network.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        userinfo_url: str,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        jwks_refetch_interval: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "ClassLink sign-in is not configured: set ROSTERSYNC_CLASSLINK_CLIENT_ID and "
                "ROSTERSYNC_CLASSLINK_CLIENT_SECRET to the application's credentials"
            )
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.userinfo_url = userinfo_url
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
        """How many times the JWKS was fetched (start-up included), for tests and load reports."""
        return self._keys.fetches

    def __repr__(self) -> str:
        return f"RelyingParty(issuer={self.issuer!r}, client_id={self.client_id!r})"

    def close(self) -> None:
        self._http.close()

    # Discovery and keys ------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document, fetched once and checked against the configuration.

        Raises:
            DiscoveryError: The document names another issuer (mix-up), or cannot be fetched;
                `reason` is "discovery_issuer_mismatch" or "discovery_unreachable".
        """
        with self._lock:
            if self._metadata is not None:
                return self._metadata
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = self._http.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DiscoveryError(
                f"cannot read ClassLink's discovery document at {url} ({type(exc).__name__}); "
                "check ROSTERSYNC_CLASSLINK_ISSUER and the network",
                reason="discovery_unreachable",
            ) from None
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise DiscoveryError(
                f"the discovery document at {url} names issuer "
                f"{document.get('issuer') if isinstance(document, dict) else None!r}, not "
                f"{self.issuer!r}; ROSTERSYNC_CLASSLINK_ISSUER must be exactly the issuer",
                reason="discovery_issuer_mismatch",
            )
        with self._lock:
            self._metadata = document
        return document

    def _fetch_keys(self) -> KeySet:
        response = self._http.get(self.metadata()["jwks_uri"])
        response.raise_for_status()
        # joserfc skips keys of a type it does not know (RFC 7517 §5) instead of failing.
        return KeySet.import_key_set(response.json())

    # The flow ----------------------------------------------------------------------------------
    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser to sign in: code flow, state, nonce and PKCE S256."""
        return str(
            prepare_grant_uri(
                self.metadata()["authorization_endpoint"],
                self.client_id,
                "code",
                redirect_uri=self.redirect_uri,
                scope=SCOPE,
                state=state,
                nonce=nonce,
                code_challenge=create_s256_code_challenge(code_verifier),
                code_challenge_method="S256",
            )
        )

    def sign_in(
        self, code: str, *, code_verifier: str, nonce: str, login_started_at: float
    ) -> ClassLinkUser:
        """Exchange the code, verify the id_token, and say who signed in.

        Args:
            code: The authorization code from the callback (exchanged at most once by the caller).
            code_verifier: The PKCE verifier kept with the login's state.
            nonce: The nonce kept with the login's state.
            login_started_at: When the login started (Unix seconds); an older `iat` is refused.

        Raises:
            SignInRefused: Any protocol failure, with a reason code.
        """
        token = self._exchange(code, code_verifier)
        claims = self.verify_id_token(
            token["id_token"], nonce=nonce, login_started_at=login_started_at
        )
        return self._user(claims, str(token.get("access_token") or ""))

    def _exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=code_verifier,
            client_id=self.client_id,
            client_secret=self._client_secret,
        )
        try:
            response = self._http.post(
                self.metadata()["token_endpoint"],
                content=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
            )
        except httpx.TimeoutException:
            raise protocol_failure("token_timeout") from None
        except httpx.HTTPError:
            raise protocol_failure("token_unreachable") from None
        if response.status_code != 200:
            raise protocol_failure(f"token_http_{response.status_code}")
        try:
            token = response.json()
        except ValueError:
            raise protocol_failure("token_not_json") from None
        if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
            raise protocol_failure("token_without_id_token")
        return token

    def verify_id_token(
        self, id_token: str, *, nonce: str, login_started_at: float
    ) -> dict[str, Any]:
        """Verify the id_token's signature and claims (`signin.id_tokens.verify`; ClassLink's
        exp is 24 h out, so freshness comes from iat against the login's start).

        Raises:
            SignInRefused: The token fails any check; `reason` names which.
        """
        return verify(
            id_token,
            self._keys,
            issuer=self.issuer,
            client_id=self.client_id,
            nonce=nonce,
            login_started_at=login_started_at,
            refuse=protocol_failure,
        )

    def _user(self, claims: dict[str, Any], access_token: str) -> ClassLinkUser:
        tenant = claims.get("classLink_tenant_id")
        sourced_id = claims.get("classLink_sourcedId")
        role = str(claims.get("classLink_role") or claims.get("profile") or "")
        if not tenant or not sourced_id:
            info = self._my_info(access_token)
            # /v2/my/info must describe the person the token is about (userinfo-invalid-sub).
            if str(info.get("UserId")) != claims["sub"]:
                raise protocol_failure("userinfo_subject", subject=claims["sub"])
            tenant = tenant or info.get("TenantId")
            sourced_id = sourced_id or info.get("SourcedId")
            role = role or str(info.get("Role") or "")
        if not tenant:
            raise protocol_failure("no_tenant", subject=claims["sub"])
        if not sourced_id:
            raise SignInRefused(
                "Your ClassLink account is not linked to your district's roster, so the Educator "
                "Portal cannot tell which account is yours. Ask your school's technology contact "
                "to check that your ClassLink account has a OneRoster sourcedId.",
                reason="no_sourced_id",
                subject=claims["sub"],
            )
        return ClassLinkUser(
            subject=claims["sub"], tenant_id=str(tenant), sourced_id=str(sourced_id), role=role
        )

    def _my_info(self, access_token: str) -> dict[str, Any]:
        try:
            response = self._http.get(
                self.userinfo_url, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError:
            raise protocol_failure("userinfo_unreachable") from None
        if response.status_code != 200:
            raise protocol_failure(f"userinfo_http_{response.status_code}")
        try:
            info = response.json()
        except ValueError:
            raise protocol_failure("userinfo_not_json") from None
        if not isinstance(info, dict):
            raise protocol_failure("userinfo_not_json")
        return info
