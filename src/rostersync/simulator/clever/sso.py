"""Clever SSO on loopback: the OAuth 2.0 authorization code flow, OIDC identity tokens, /me.

    GET  /oauth/authorize      response_type=code, client_id, redirect_uri, state, district_id,
                               nonce; the simulator signs in `login_as=<Clever user id>`, or the
                               person set with `CleverSimulator.sign_in_as`, or shows a picker
    POST /oauth/tokens         grant_type=authorization_code, HTTP Basic client credentials; a code
                               is single-use, lives 5 minutes, and needs the same redirect_uri
    GET  /v3.0/me              (also /v3.1/me) the signed-in user: type, id, district
    GET  /userinfo             the OIDC-style identity of the signed-in user
    GET  /.well-known/openid-configuration, /oauth/jwks   discovery and the RS256 keys
    GET  /portal/launch        a Clever Portal tile: straight to the redirect URI, code, no state

An OIDC-configured app (`oidc=True`) also gets an `id_token` (RS256) with Clever's documented
claims `user_id` (the pre-v3 id), `user_type`, `district`, `multi_role_user_id` (the v3 user id)
`email`, `email_verified` (false), `given_name` and `family_name`, beside `iss`, `aud`, `sub` (the
v3 user id), `iat`, `exp` and the `nonce` of the authorize request. Clever's issuer is always
https://clever.com; the simulator's is its own URL unless `issuer` is given, so that discovery,
JWKS and `iss` agree on loopback.
"""

from __future__ import annotations

import base64
import hmac
import html
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from rostersync.simulator.clever.http import Reply, json_reply, redirect
from rostersync.simulator.clever.model import Record
from rostersync.simulator.sso_keys import SigningKeys

CODE_LIFETIME = 300
TOKEN_LIFETIME = 3600
# Which role a login speaks for when a person holds several (Clever's user_type values).
_USER_TYPES = ("student", "teacher", "staff", "district_admin")

#: Finds a signed-in person: (district id, user record) by Clever user id, or None.
Lookup = Callable[[str], tuple[str, Record] | None]


@dataclass(slots=True)
class _Grant:
    redirect_uri: str
    district_id: str
    user: Record
    nonce: str | None
    issued_at: float
    used: bool = False


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a user access token speaks for."""

    district_id: str
    user: Record

    @property
    def user_type(self) -> str:
        roles = self.user.get("roles") or {}
        return next((t for t in _USER_TYPES if roles.get(t)), "user")

    @property
    def legacy_id(self) -> str:
        role = (self.user.get("roles") or {}).get(self.user_type) or {}
        return str(role.get("legacy_id") or self.user["id"])


class CleverSso:
    """The SSO half of the Clever simulator; the server routes OAuth and identity paths here."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        lookup: Lookup,
        issuer: Callable[[], str],
        clock: Callable[[], float],
        oidc: bool,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.oidc = oidc
        self.keys = SigningKeys()
        self._lookup = lookup
        self._issuer = issuer
        self._clock = clock
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, Identity] = {}
        #: The person the next authorize request signs in when it names none (a Clever user id).
        self.next_login: str | None = None

    # Client authentication -----------------------------------------------------------------------
    def basic_ok(self, authorization: str) -> bool:
        """Whether an `Authorization: Basic …` header carries the app's id and secret."""
        if not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except ValueError:
            return False
        client_id, _, secret = decoded.partition(":")
        return hmac.compare_digest(client_id, self.client_id) and hmac.compare_digest(
            secret, self.client_secret
        )

    def identity(self, authorization: str) -> Identity | None:
        """The person a user access token (`Bearer …`) speaks for, if it is one."""
        token = authorization[7:] if authorization.lower().startswith("bearer ") else ""
        with self._lock:
            return self._access.get(token)

    # Endpoints ----------------------------------------------------------------------------------
    def authorize(self, query: dict[str, str]) -> Reply:
        """`GET /oauth/authorize`: sign someone in and send them back with a code."""
        if query.get("client_id") != self.client_id:
            return _page(400, "Clever sign-in error", "Unknown application (client_id).")
        redirect_uri = query.get("redirect_uri") or self.redirect_uris[0]
        if redirect_uri not in self.redirect_uris:
            return _page(400, "Clever sign-in error", "The redirect_uri is not registered.")
        if query.get("response_type") != "code":
            return _page(400, "Clever sign-in error", "Only response_type=code is supported.")
        person = query.get("login_as") or self.next_login
        if not person:
            return self._picker(query)
        found = self._lookup(person)
        wanted = query.get("district_id")
        if found is None or (wanted and found[0] != wanted):
            return _page(400, "Clever sign-in error", "No such person in this district.")
        return self._issue(redirect_uri, found, query.get("nonce"), query.get("state"))

    def launch(self, query: dict[str, str]) -> Reply:
        """`GET /portal/launch?user=<id>`: a Clever Portal tile click — a code and no state."""
        found = self._lookup(query.get("user", ""))
        if found is None:
            return _page(400, "Clever Portal error", "No such person.")
        return self._issue(self.redirect_uris[0], found, None, None)

    def token(self, authorization: str, body: bytes) -> Reply:
        """`POST /oauth/tokens`: exchange a code for a user access token (and an id_token)."""
        if not self.basic_ok(authorization):
            return json_reply(401, {"error": "invalid_client"})
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if form.get("grant_type") != "authorization_code":
            return json_reply(400, {"error": "unsupported_grant_type"})
        now = self._clock()
        with self._lock:
            grant = self._grants.get(form.get("code", ""))
            if grant is None or grant.used or now - grant.issued_at > CODE_LIFETIME:
                return json_reply(
                    400, {"error": "invalid_grant", "error_description": "invalid code"}
                )
            # Single use, even when the rest of this request is wrong.
            grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return json_reply(400, {"error": "invalid_grant", "error_description": "redirect_uri"})
        access = secrets.token_hex(20)
        identity = Identity(grant.district_id, grant.user)
        with self._lock:
            self._access[access] = identity
        answer: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
        if self.oidc:
            answer["id_token"] = self.keys.sign(self.claims(identity, grant.nonce, now))
        return json_reply(200, answer, [("Cache-Control", "no-store")])

    def claims(self, who: Identity, nonce: str | None, now: float) -> dict[str, Any]:
        """The identity token's claims for one login."""
        name = who.user.get("name") or {}
        claims: dict[str, Any] = {
            "iss": self._issuer(),
            "aud": self.client_id,
            "sub": who.user["id"],
            "iat": int(now),
            "exp": int(now) + TOKEN_LIFETIME,
            "user_id": who.legacy_id,
            "multi_role_user_id": who.user["id"],
            "user_type": who.user_type,
            "district": who.district_id,
            "email": who.user.get("email"),
            "email_verified": False,
            "given_name": name.get("first"),
            "family_name": name.get("last"),
        }
        if nonce:
            claims["nonce"] = nonce
        return claims

    def me(self, who: Identity, version: str) -> Reply:
        """`GET /v3.0/me`: the token's type, the user's id and district."""
        user_id = who.user["id"]
        return json_reply(
            200,
            {
                "type": "user",
                "data": {
                    "id": user_id,
                    "type": "user",
                    "district": who.district_id,
                    "authorized_by": "district",
                },
                "links": [
                    {"rel": "self", "uri": f"/{version}/me"},
                    {"rel": "canonical", "uri": f"/{version}/users/{user_id}"},
                    {"rel": "district", "uri": f"/{version}/districts/{who.district_id}"},
                ],
            },
        )

    def userinfo(self, who: Identity) -> Reply:
        """`GET /userinfo`: the OIDC-style identity of the signed-in user."""
        name = who.user.get("name") or {}
        return json_reply(
            200,
            {
                "sub": who.user["id"],
                "user_id": who.legacy_id,
                "multi_role_user_id": who.user["id"],
                "user_type": who.user_type,
                "district_id": who.district_id,
                "district": who.district_id,
                "email": who.user.get("email"),
                "email_verified": False,
                "name": name,
                "given_name": name.get("first"),
                "family_name": name.get("last"),
            },
        )

    def discovery(self, base: str) -> Reply:
        """`GET /.well-known/openid-configuration`; the endpoints live under `base`."""
        return json_reply(
            200,
            {
                "issuer": self._issuer(),
                "authorization_endpoint": f"{base}/oauth/authorize",
                "token_endpoint": f"{base}/oauth/tokens",
                "userinfo_endpoint": f"{base}/userinfo",
                "jwks_uri": f"{base}/oauth/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            },
        )

    def jwks(self) -> Reply:
        """`GET /oauth/jwks`: the public signing keys."""
        return json_reply(200, self.keys.jwks())

    # Internals ----------------------------------------------------------------------------------
    def _issue(
        self, redirect_uri: str, found: tuple[str, Record], nonce: str | None, state: str | None
    ) -> Reply:
        code = secrets.token_urlsafe(24)
        district_id, user = found
        with self._lock:
            self._grants[code] = _Grant(redirect_uri, district_id, user, nonce, self._clock())
        answer = {"code": code}
        if state:
            answer["state"] = state
        return redirect(f"{redirect_uri}?{urlencode(answer)}")

    def _picker(self, query: dict[str, str]) -> Reply:
        return _page(
            400,
            "Sign in to Clever (simulated)",
            "Name the person to sign in: add login_as=&lt;Clever user id&gt; to this URL, or "
            "set CleverSimulator.sign_in_as(...) before starting the login. "
            f"Request: {html.escape(urlencode(query))}",
        )


def _page(status: int, title: str, text: str) -> Reply:
    doc = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><h1>{html.escape(title)}</h1><p>{text}</p></body></html>"
    )
    return Reply(status, doc.encode(), "text/html; charset=utf-8")
