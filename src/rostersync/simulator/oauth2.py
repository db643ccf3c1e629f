"""An OAuth 2 client-credentials token endpoint per tenant: `POST /{tenant}/token`.

The client id and secret are the tenant's key and secret. Client authentication is HTTP Basic or
the form fields `client_id`/`client_secret` (RFC 6749 §2.3.1); scopes are the OneRoster 1.2
rostering URIs. A request for more than that (gradebook, resources) gets the rostering part and a
`scope` saying so (RFC 6749 §3.3); only a request with nothing offered is `invalid_scope`.
Tokens are opaque random strings held in memory with their expiry, so a test can make every token
of a tenant expire at once (`expire`) and watch the client fetch a new one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

from rostersync.simulator.response import Response
from rostersync.simulator.router import Router

SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
ROSTER_CORE = SCOPE_PREFIX + "roster-core.readonly"
ROSTER = SCOPE_PREFIX + "roster.readonly"
ROSTER_DEMOGRAPHICS = SCOPE_PREFIX + "roster-demographics.readonly"
SCOPES = frozenset({ROSTER_CORE, ROSTER, ROSTER_DEMOGRAPHICS})

_MAX_TOKENS = 10_000  # per issuer; the oldest are forgotten beyond this


def imsx_failure(
    status: int, code_minor: str, description: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """A failure with the 1.2 body: a bare `imsx_StatusInfo` object, not wrapped in a set."""
    body: dict[str, Any] = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }
    return Response(status, body, headers or [])


def _oauth_error(status: int, error: str, description: str) -> Response:
    headers = [("Cache-Control", "no-store")]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Basic realm="token"'))
    return Response(status, {"error": error, "error_description": description}, headers)


@dataclass(slots=True)
class _Token:
    tenant: str
    scopes: frozenset[str]
    expires_at: float


class TokenIssuer:
    """Issues and checks bearer tokens for the tenants of a router.

    Args:
        router: Where the tenants (and their key and secret) live.
        clock: Current Unix time in seconds.
        lifetime: Seconds a new token is valid (`expires_in`).
    """

    def __init__(self, router: Router, *, clock: Callable[[], float], lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self._router = router
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self._issued: dict[str, int] = {}
        self._lock = threading.Lock()

    def issued(self, tenant: str) -> int:
        """How many tokens the tenant's token endpoint has handed out."""
        with self._lock:
            return self._issued.get(tenant, 0)

    def expire(self, tenant: str) -> int:
        """Make every token of the tenant expired now; returns how many there were."""
        now = self._clock()
        with self._lock:
            mine = [t for t in self._tokens.values() if t.tenant == tenant]
            for token in mine:
                token.expires_at = min(token.expires_at, now - 1)
            return len(mine)

    def handle(
        self, method: str, target: str, host: str, authorization: str | None, body: bytes
    ) -> Response | None:
        """Answer `POST /{tenant}/token`; None for any other path."""
        path, _, _query = target.partition("?")
        segments = path.split("/")
        if len(segments) != 3 or segments[2] != "token":
            return None
        try:
            tenant = self._router.tenant(unquote(segments[1]))
        except KeyError:
            return None
        if method != "POST":
            return Response(405, {"error": "invalid_request"}, [("Allow", "POST")])
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, client_secret = _client_credentials(authorization, form)
        if client_id is None:
            return _oauth_error(401, "invalid_client", "client authentication is missing")
        if not (
            hmac.compare_digest(client_id.encode(), tenant.key.encode())
            and hmac.compare_digest((client_secret or "").encode(), tenant.secret.encode())
        ):
            return _oauth_error(401, "invalid_client", "unknown client or wrong client secret")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "only client_credentials is supported"
            )
        requested = frozenset(form.get("scope", "").split()) or frozenset({ROSTER_CORE})
        # RFC 6749 §3.3: grant the part of the request that is offered and say so in `scope`;
        # clients commonly ask for gradebook or resources scopes beside the rostering ones.
        granted = requested & SCOPES
        if not granted:
            offered = ", ".join(sorted(s.removeprefix(SCOPE_PREFIX) for s in SCOPES))
            return _oauth_error(
                400,
                "invalid_scope",
                f"none of the requested scopes is offered; this server grants {offered} "
                f"(each prefixed {SCOPE_PREFIX})",
            )
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = _Token(tenant.name, granted, self._clock() + self.lifetime)
            self._issued[tenant.name] = self._issued.get(tenant.name, 0) + 1
            while len(self._tokens) > _MAX_TOKENS:
                del self._tokens[next(iter(self._tokens))]
        return Response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.lifetime,
                "scope": " ".join(sorted(granted)),
            },
            [("Cache-Control", "no-store")],
        )

    def check(
        self, authorization: str | None, tenant: str, accepted: Iterable[str]
    ) -> Response | None:
        """None when the bearer token is valid for the tenant with one of `accepted` scopes.

        Otherwise the 1.2 failure to answer: 401 for a missing, unknown or expired token, 403
        for a token without the scope the operation needs.
        """
        challenge = [("WWW-Authenticate", f'Bearer realm="{tenant}"')]
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return imsx_failure(401, "unauthorisedrequest", "missing bearer token", challenge)
        with self._lock:
            token = self._tokens.get(value.strip())
        if token is None or token.tenant != tenant:
            return imsx_failure(401, "unauthorisedrequest", "unknown access token", challenge)
        if token.expires_at <= self._clock():
            return imsx_failure(401, "unauthorisedrequest", "access token expired", challenge)
        if not token.scopes & set(accepted):
            return imsx_failure(403, "forbidden", "the access token lacks the scope needed")
        return None


def _client_credentials(
    authorization: str | None, form: dict[str, str]
) -> tuple[str | None, str | None]:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            return None, None
        # RFC 6749 §2.3.1: both halves are form-urlencoded before being joined.
        return unquote_plus(client_id), unquote_plus(secret)
    if "client_id" in form:
        return form["client_id"], form.get("client_secret")
    return None, None
