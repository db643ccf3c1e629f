"""A ClassLink LaunchPad stand-in for signing in: OpenID Connect on loopback, standard library HTTP.

It serves the endpoints a relying party uses (security.md §1, oneroster-classlink.md §5):

    /.well-known/openid-configuration   discovery; the issuer is the server's own URL
    /oauth2/v2/auth                     a sign-in form listing each tenant's simulated people;
                                        picking one issues a code (state, nonce, PKCE S256 honoured)
    /oauth2/v2/token                    client_secret_post or client_secret_basic; code_verifier
                                        checked; a code is single-use and lives 5 minutes
    /oauth2/v2/jwks                     RS256 keys made at start; `rotate_keys()` replaces them
    /v2/my/info                         the user, PascalCase, for the Bearer access token
    /launchpad/launch                   a LaunchPad tile: straight to the app's redirect URI with a
                                        code and no state
    /logout                             forget the simulated ClassLink session

Once a browser has picked a person it holds a ClassLink session cookie, so a later authorize
request is answered at once without the form, as LaunchPad does for a signed-in user; `prompt=login`
shows the form anyway. Set `fault` to make it misbehave in one of the ways `SsoFault` lists.

Nothing is logged per request: codes, tokens and client secrets only ever travel on the wire.
What it says about people (discovery, ID token claims, my/info) is `simulator.sso_claims`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from rostersync.simulator.district import DistrictData
from rostersync.simulator.loopback import LoopbackServer, TrackingHTTPServer
from rostersync.simulator.sso_claims import (
    TOKEN_LIFETIME,
    SsoPerson,
    discovery,
    id_token_claims,
    my_info,
    tenant_people,
)
from rostersync.simulator.sso_keys import SigningKeys, SsoFault

__all__ = ["SsoClient", "SsoFault", "SsoPerson", "SsoServer", "SsoTenant"]

CODE_LIFETIME = 300  # ClassLink: "the code expires after 5 minutes"
SESSION_COOKIE = "classlink_sim_session"


@dataclass(frozen=True, slots=True)
class SsoClient:
    """An application registered with the simulated ClassLink."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str


@dataclass(slots=True)
class SsoTenant:
    """A district as ClassLink knows it: its tenant id and its people (from a `DistrictData`)."""

    tenant_id: str
    name: str
    data: DistrictData


@dataclass(slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    person: SsoPerson
    nonce: str | None
    challenge: str | None
    issued_at: float
    used: bool = False


@dataclass(slots=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), "application/json", list(headers))


def _redirect(location: str, headers: Iterable[tuple[str, str]] = ()) -> _Reply:
    return _Reply(302, b"", "text/plain", [("Location", location), *headers])


def _page(status: int, title: str, body: str) -> _Reply:
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;"
        "padding:0 1rem}button{margin:.15rem 0;padding:.35rem .6rem;cursor:pointer}"
        "li{list-style:none}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return _Reply(status, doc.encode(), "text/html; charset=utf-8")


class SsoServer(LoopbackServer):
    """A simulated ClassLink SSO (LaunchPad) serving from a daemon thread on loopback.

    Use as a context manager, or call `start()` and `stop()`.

    Args:
        tenants: The districts whose people can sign in.
        clients: The registered applications (client id, secret, exact redirect URI).
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one.
        clock: Current Unix time in seconds (codes, token times).
    """

    def __init__(
        self,
        tenants: Iterable[SsoTenant] = (),
        clients: Iterable[SsoClient] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tenants = {t.tenant_id: t for t in tenants}
        self._clients = {c.client_id: c for c in clients}
        self._address = (host, port)
        self.clock = clock
        self.keys = SigningKeys()
        #: How to misbehave; assign at any time.
        self.fault = SsoFault.NONE
        #: How long TOKEN_HANG waits before answering.
        self.hang_seconds = 5.0
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, SsoPerson] = {}
        self._sessions: dict[str, SsoPerson] = {}
        self._people: dict[str, dict[str, SsoPerson]] = {}
        self.token_requests: dict[str, int] = {}
        self.jwks_requests = 0
        self.userinfo_requests = 0
        super().__init__()

    # Life cycle --------------------------------------------------------------------------------
    _label = "the SSO simulator"
    _thread_prefix = "rostersync-sso"

    def _make_httpd(self) -> _HTTPServer:
        return _HTTPServer(self._address, self)

    @property
    def issuer(self) -> str:
        return self.url

    # Set-up and inspection ---------------------------------------------------------------------
    def add_tenant(self, tenant: SsoTenant) -> None:
        """Let another district's people sign in."""
        with self._lock:
            self._tenants[tenant.tenant_id] = tenant
            self._people.pop(tenant.tenant_id, None)

    def add_client(self, client: SsoClient) -> None:
        """Register another application."""
        with self._lock:
            self._clients[client.client_id] = client

    def rotate_keys(self) -> str:
        """Replace the signing key (the old one leaves the JWKS); returns the new kid."""
        return self.keys.rotate()

    def people(self, tenant_id: str) -> list[SsoPerson]:
        """Everyone in the tenant who can sign in (students and staff; no guardians)."""
        return list(self._tenant_people(tenant_id).values())

    def person(self, tenant_id: str, sourced_id: str) -> SsoPerson:
        """One person by tenant and sourcedId.

        Raises:
            KeyError: No such person.
        """
        return self._tenant_people(tenant_id)[sourced_id]

    def token_requests_for(self, code: str) -> int:
        """How many token requests presented this code (refused ones included)."""
        with self._lock:
            return self.token_requests.get(code, 0)

    def launch_url(self, client_id: str, tenant_id: str, sourced_id: str) -> str:
        """The URL of a LaunchPad tile that opens the app as this person."""
        query = urlencode({"client_id": client_id, "tenant": tenant_id, "user": sourced_id})
        return f"{self.url}/launchpad/launch?{query}"

    def _tenant_people(self, tenant_id: str) -> dict[str, SsoPerson]:
        with self._lock:
            cached = self._people.get(tenant_id)
            if cached is not None:
                return cached
            people = tenant_people(tenant_id, self._tenants[tenant_id].data)
            self._people[tenant_id] = people
            return people

    # Requests ----------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Reply:
        """Answer one request (the HTTP handler's only entry point)."""
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path
        if path == "/.well-known/openid-configuration":
            return self._discovery()
        if path == "/oauth2/v2/auth" and method == "GET":
            return self._authorize(query, headers)
        if path == "/oauth2/v2/auth" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            return self._pick(form)
        if path == "/oauth2/v2/token" and method == "POST":
            return self._token(headers, body)
        if path == "/oauth2/v2/jwks":
            with self._lock:
                self.jwks_requests += 1
            return _json(200, self.keys.jwks(self.fault))
        if path == "/v2/my/info":
            return self._my_info(headers)
        if path == "/launchpad/launch":
            return self._launch(query)
        if path == "/logout":
            reply = _page(200, "Signed out of ClassLink", "<p>You are signed out.</p>")
            reply.headers.append(("Set-Cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0"))
            return reply
        return _json(404, {"error": "not_found"})

    def _discovery(self) -> _Reply:
        return _json(200, discovery(self.url, self.fault))

    def _check_request(self, params: dict[str, str]) -> tuple[SsoClient | None, str | None]:
        client = self._clients.get(params.get("client_id", ""))
        if client is None:
            return None, "Unknown application (client_id)."
        # Exact string comparison, as RFC 9700 requires; never redirect to an unregistered URI.
        if params.get("redirect_uri") != client.redirect_uri:
            return None, "The redirect_uri is not the one registered for this application."
        if params.get("response_type") != "code":
            return None, "Only response_type=code is supported."
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and method != "S256":
            return None, "code_challenge_method must be S256."
        return client, None

    def _authorize(self, query: dict[str, str], headers: dict[str, str]) -> _Reply:
        client, problem = self._check_request(query)
        if client is None:
            return _page(400, "ClassLink sign-in error", f"<p>{html.escape(problem or '')}</p>")
        person = self._session_person(headers)
        if person is not None and query.get("prompt") != "login":
            return self._issue(client, query, person, set_session=False)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in query.items()
            if k != "prompt"
        )
        sections = []
        with self._lock:
            tenants = list(self._tenants.values())
        for tenant in tenants:
            items = "".join(
                f'<li><button type="submit" name="person" '
                f'value="{html.escape(tenant.tenant_id)}:{html.escape(p.sourced_id)}">'
                f"{html.escape(p.display_name)} — {html.escape(p.role)} "
                f"({html.escape(p.sourced_id)})</button></li>"
                for p in self.people(tenant.tenant_id)
            )
            sections.append(
                f"<section><h2>{html.escape(tenant.name)} (tenant {html.escape(tenant.tenant_id)})"
                f"</h2><ul>{items}</ul></section>"
            )
        body = (
            "<p>Simulated ClassLink LaunchPad. Choose who you are.</p>"
            f'<form method="post" action="/oauth2/v2/auth">{hidden}{"".join(sections)}</form>'
        )
        return _page(200, "Sign in to ClassLink", body)

    def _pick(self, form: dict[str, str]) -> _Reply:
        client, problem = self._check_request(form)
        if client is None:
            return _page(400, "ClassLink sign-in error", f"<p>{html.escape(problem or '')}</p>")
        tenant_id, _, sourced_id = form.get("person", "").partition(":")
        try:
            person = self.person(tenant_id, sourced_id)
        except KeyError:
            return _page(400, "ClassLink sign-in error", "<p>No such person.</p>")
        return self._issue(client, form, person, set_session=True)

    def _issue(
        self, client: SsoClient, params: dict[str, str], person: SsoPerson, *, set_session: bool
    ) -> _Reply:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(
                client_id=client.client_id,
                redirect_uri=client.redirect_uri,
                person=person,
                nonce=params.get("nonce") or None,
                challenge=params.get("code_challenge") or None,
                issued_at=self.clock(),
            )
        answer = {"code": code}
        if params.get("state"):
            answer["state"] = params["state"]
        cookies = []
        if set_session:
            cookies.append(("Set-Cookie", self._new_session(person)))
        return _redirect(f"{client.redirect_uri}?{urlencode(answer)}", cookies)

    def _new_session(self, person: SsoPerson) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[token] = person
        return f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"

    def _session_person(self, headers: dict[str, str]) -> SsoPerson | None:
        for chunk in headers.get("cookie", "").split(";"):
            name, _, value = chunk.strip().partition("=")
            if name == SESSION_COOKIE:
                with self._lock:
                    return self._sessions.get(value)
        return None

    def _launch(self, query: dict[str, str]) -> _Reply:
        client = self._clients.get(query.get("client_id", ""))
        if client is None:
            return _page(400, "ClassLink launch error", "<p>Unknown application.</p>")
        try:
            person = self.person(query.get("tenant", ""), query.get("user", ""))
        except KeyError:
            return _page(400, "ClassLink launch error", "<p>No such person.</p>")
        # A tile click: the user is signed in to LaunchPad, and the app gets a code with no state.
        params = {"client_id": client.client_id, "redirect_uri": client.redirect_uri}
        return self._issue(client, params, person, set_session=True)

    def _client_auth(self, headers: dict[str, str], form: dict[str, str]) -> SsoClient | None:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:]).decode()
            except ValueError:
                return None
            client_id, _, secret = decoded.partition(":")
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, secret):
            return None
        return client

    def _token(self, headers: dict[str, str], body: bytes) -> _Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        code = form.get("code", "")
        with self._lock:
            self.token_requests[code] = self.token_requests.get(code, 0) + 1
        fault = self.fault
        if fault is SsoFault.TOKEN_ERROR:
            return _json(500, {"error": "server_error"})
        if fault is SsoFault.TOKEN_GARBAGE:
            return _Reply(200, b"<html>oops</html>", "application/json")
        if fault is SsoFault.TOKEN_HANG:
            time.sleep(self.hang_seconds)
        client = self._client_auth(headers, form)
        if client is None:
            return _json(401, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code":
            return _json(400, {"error": "unsupported_grant_type"})
        now = self.clock()
        with self._lock:
            grant = self._grants.get(code)
            if grant is None or grant.used or now - grant.issued_at > CODE_LIFETIME:
                return _json(400, {"error": "invalid_grant"})
            # Single use, even when the rest of this request turns out to be wrong.
            grant.used = True
        if grant.client_id != client.client_id or form.get("redirect_uri") != grant.redirect_uri:
            return _json(400, {"error": "invalid_grant"})
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not hmac.compare_digest(expected, grant.challenge):
                return _json(400, {"error": "invalid_grant", "error_description": "PKCE"})
        access = secrets.token_urlsafe(24)
        with self._lock:
            self._access[access] = grant.person
        id_token = self.keys.sign(
            self._claims(client, grant, now), fault=fault, client_secret=client.client_secret
        )
        return _json(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "id_token": id_token,
            },
            [("Cache-Control", "no-store")],
        )

    def _claims(self, client: SsoClient, grant: _Grant, now: float) -> dict[str, object]:
        return id_token_claims(
            issuer=self.issuer,
            client_id=client.client_id,
            person=grant.person,
            nonce=grant.nonce,
            now=now,
            fault=self.fault,
        )

    def _my_info(self, headers: dict[str, str]) -> _Reply:
        with self._lock:
            self.userinfo_requests += 1
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self._lock:
            person = self._access.get(token)
        if person is None:
            return _json(401, {"error": "invalid_token"})
        return _json(200, my_info(person, self._tenants[person.tenant_id].name, self.fault))


class _HTTPServer(TrackingHTTPServer):
    """The SSO simulator's HTTP server: requests go to the `SsoServer`."""

    def __init__(self, address: tuple[str, int], sso: SsoServer) -> None:
        self.sso = sso
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (a test's timeout, a closed browser) are normal here.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rostersync-sso-simulator"
    sys_version = ""
    timeout = 60
    server: _HTTPServer

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_GET

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.sso.handle(self.command, self.path, headers, body)
        except Exception:
            reply = _json(500, {"error": "server_error"})
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes the request line, whose query holds codes and states.
        return
