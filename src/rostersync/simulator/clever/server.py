"""A Clever stand-in on loopback: district-app tokens, the Data API v3.1, Events, and SSO.

Everything is served from one base URL (`url`): the OAuth host paths (`/oauth/...`) that live on
clever.com and the API paths (`/v3.1/...`, `/v3.0/me`) that live on api.clever.com.

    with CleverSimulator(client_id="app", client_secret="s3cret") as clever:
        district_id = clever.add_district(generate_district(students=200, seed=7))
        # GET {clever.url}/oauth/tokens?owner_type=district with Basic app:s3cret → the token
        clever.district(district_id).data = changed  # later: events record the difference

A token sees its own district only: another district's records answer 404. Faults come from
`rostersync.simulator.faults` (429 bursts, 5xx, slow, cut, truncate, expired-token) and apply per
district, scoped by the resource segment after `/v3.1/` ("users", "sections", "events", …).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit

from rostersync.simulator.clever import data_api
from rostersync.simulator.clever.district import ServedDistrict
from rostersync.simulator.clever.events import EventGone
from rostersync.simulator.clever.http import CleverHTTPServer, Reply, json_reply, message
from rostersync.simulator.clever.model import KINDS, Record, district_id_for
from rostersync.simulator.clever.quirks import quirky
from rostersync.simulator.clever.sso import CleverSso, Identity
from rostersync.simulator.district import DistrictData
from rostersync.simulator.faults import Fault, FaultPlan
from rostersync.simulator.loopback import LoopbackServer

__all__ = ["CleverSimulator"]

_API_VERSIONS = ("v3.0", "v3.1")
RATE_LIMIT = 1200  # requests a minute per token, as Clever documents


class CleverSimulator(LoopbackServer):
    """Serves one app's connected districts the way Clever does, from a daemon thread.

    Args:
        client_id: The app's client id (HTTP Basic user for /oauth/tokens).
        client_secret: The app's client secret.
        redirect_uris: The app's registered redirect URIs; the first is where Portal launches go.
        oidc: Whether the app is configured for OIDC (the code exchange returns an id_token).
        issuer: The id_token `iss` and discovery issuer; Clever's is "https://clever.com", the
            default here is the simulator's own URL so discovery and JWKS resolve on loopback.
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one.
        clock: Current Unix time in seconds (codes, tokens, event times).
    """

    _label = "the Clever simulator"
    _thread_prefix = "rostersync-clever"

    def __init__(
        self,
        *,
        client_id: str = "clever-sim-client",
        client_secret: str = "clever-sim-secret",  # noqa: S107 - a loopback stand-in's default
        redirect_uris: Iterable[str] = ("http://127.0.0.1:8000/oauth/clever/callback",),
        oidc: bool = True,
        issuer: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._address = (host, port)
        self._clock = clock
        self._lock = threading.Lock()
        self._districts: dict[str, ServedDistrict] = {}
        self._tokens: dict[str, str] = {}  # district-app token → district id
        self._requests: dict[str | None, int] = {}
        self.sso = CleverSso(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=list(redirect_uris),
            lookup=self._find_user,
            issuer=lambda: issuer or self.url,
            clock=clock,
            oidc=oidc,
        )
        super().__init__()

    def _make_httpd(self) -> CleverHTTPServer:
        return CleverHTTPServer(self._address, self)

    # The app ----------------------------------------------------------------------------------
    @property
    def client_id(self) -> str:
        """The app's client id."""
        return self.sso.client_id

    @property
    def client_secret(self) -> str:
        """The app's client secret."""
        return self.sso.client_secret

    # Districts ----------------------------------------------------------------------------------
    def add_district(self, data: DistrictData, *, district_id: str | None = None) -> str:
        """Connect a district to the app (it gets a district-app token); returns its Clever id.

        Raises:
            ValueError: A district with this id is already connected.
        """
        chosen = district_id or district_id_for(data)
        served = ServedDistrict(chosen, data, clock=self._clock)
        with self._lock:
            if chosen in self._districts:
                raise ValueError(f"district {chosen} is already connected")
            self._districts[chosen] = served
            self._tokens[served.token] = chosen
        return chosen

    def district(self, district_id: str) -> ServedDistrict:
        """A connected district: assign its `data` to change what it serves (events record it).

        Raises:
            KeyError: No such district.
        """
        with self._lock:
            return self._districts[district_id]

    def district_ids(self) -> list[str]:
        """The connected districts' ids."""
        with self._lock:
            return list(self._districts)

    def token(self, district_id: str) -> str:
        """The district-app token of a connected district (what /oauth/tokens lists)."""
        return self.district(district_id).token

    def revoke(self, district_id: str) -> None:
        """Disconnect: the token stops working (401) and leaves the token list."""
        served = self.district(district_id)
        with self._lock:
            self._tokens.pop(served.token, None)
            served.revoked = True

    def reconnect(self, district_id: str) -> str:
        """Connect a revoked district again with a new token; returns the token."""
        served = self.district(district_id)
        with self._lock:
            self._tokens.pop(served.token, None)
            served.new_token()
            self._tokens[served.token] = district_id
            return served.token

    def set_faults(self, district_id: str, *faults: Fault) -> FaultPlan:
        """Make a district's API misbehave from its next request on, replacing earlier faults.

        Raises:
            ValueError: A fault Clever cannot show: a wrong total (Clever's lists carry none).
        """
        for fault in faults:
            if fault.kind == "wrong-total":
                raise ValueError("Clever's lists carry no total count: there is none to get wrong")
        served = self.district(district_id)
        served.faults = FaultPlan(list(faults))
        return served.faults

    def set_quirks(self, district_id: str, on: bool = True) -> None:
        """Serve a district the way real districts' Clever data differs from the tidy translation
        (`simulator.clever.quirks`): missing fields, a primary teacher not in `teachers`, fields a
        client does not know."""
        self.district(district_id).quirks = on

    def expire_events(self, district_id: str) -> int:
        """Forget the district's events so far (Clever's window passed); returns how many."""
        return self.district(district_id).events.expire()

    def request_count(self, district_id: str | None = None) -> int:
        """Requests made with this district's token (refused ones included); all when None."""
        with self._lock:
            if district_id is None:
                return sum(self._requests.values())
            return self._requests.get(district_id, 0)

    # Sign-in helpers -----------------------------------------------------------------------------
    def sign_in_as(self, user_id: str | None) -> None:
        """The person the next authorize request without `login_as` signs in (a Clever user id)."""
        self.sso.next_login = user_id

    def authorize_url(
        self,
        *,
        redirect_uri: str | None = None,
        state: str | None = None,
        login_as: str | None = None,
        nonce: str | None = None,
        district_id: str | None = None,
    ) -> str:
        """A `/oauth/authorize` URL for this app, as a "Log in with Clever" button builds it."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri or self.sso.redirect_uris[0],
        }
        extra = {"state": state, "login_as": login_as, "nonce": nonce, "district_id": district_id}
        query.update({k: v for k, v in extra.items() if v})
        return f"{self.url}/oauth/authorize?{urlencode(query)}"

    def portal_launch_url(self, user_id: str) -> str:
        """A Clever Portal tile for this person: to the redirect URI with a code and no state."""
        return f"{self.url}/portal/launch?user={user_id}"

    # Requests -----------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request (the HTTP handler's only entry point)."""
        parts = urlsplit(target)
        # `record_type` may repeat (Swagger: collectionFormat multi); its values are joined by ",".
        query = {
            k: ",".join(v) if k == "record_type" else v[0]
            for k, v in parse_qs(parts.query, keep_blank_values=True).items()
        }
        path = parts.path.rstrip("/") or "/"
        auth = headers.get("authorization", "")
        if path == "/oauth/tokens":
            if method == "POST":
                return self.sso.token(auth, body)
            return self._token_list(auth, query)
        if path == "/oauth/authorize":
            return self.sso.authorize(query)
        if path == "/portal/launch":
            return self.sso.launch(query)
        if path == "/oauth/jwks":
            return self.sso.jwks()
        if path == "/.well-known/openid-configuration":
            return self.sso.discovery(self.url)
        if path == "/userinfo":
            who = self.sso.identity(auth)
            return self.sso.userinfo(who) if who else _unauthorized()
        segments = path.strip("/").split("/")
        if segments[0] in _API_VERSIONS and len(segments) >= 2:
            if method != "GET":
                return message(405, "the Data API is read-only")
            return self._api(segments[0], segments[1:], query, auth)
        return message(404, "not found")

    def _token_list(self, auth: str, query: dict[str, str]) -> Reply:
        if not self.sso.basic_ok(auth):
            return json_reply(401, {"error": "invalid_client", "message": "bad client credentials"})
        if query.get("owner_type", "district") != "district":
            return message(400, "owner_type must be district")
        wanted = query.get("district")
        with self._lock:
            served = [d for d in self._districts.values() if not d.revoked]
        data = [d.token_record() for d in served if wanted is None or d.district_id == wanted]
        return json_reply(200, {"data": data, "links": []})

    def _api(self, version: str, segments: list[str], query: dict[str, str], auth: str) -> Reply:
        if segments == ["me"]:
            who = self.sso.identity(auth)
            return self.sso.me(who, version) if who else _unauthorized()
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with self._lock:
            district_id = self._tokens.get(token)
            self._requests[district_id] = self._requests.get(district_id, 0) + 1
        if district_id is None:
            who = self.sso.identity(auth)
            return self._user_token_api(version, segments, who) if who else _unauthorized()
        served = self.district(district_id)
        resource = segments[0]
        firing = served.faults.decide(resource)
        refused = _refusal(firing, self._clock())
        if refused is not None:
            return refused
        reply = self._data(version, segments, query, served)
        for fault in firing:
            if fault.kind == "slow":
                reply = replace(reply, delay=reply.delay + fault.delay)
            elif fault.kind in ("cut", "truncate"):
                reply = replace(reply, delivery="cut" if fault.kind == "cut" else "truncated")
            elif fault.kind == "change" and fault.change is not None:
                served.data = fault.change(served.data)
        return reply

    def _data(
        self, version: str, segments: list[str], query: dict[str, str], served: ServedDistrict
    ) -> Reply:
        resource = segments[0]
        if resource == "events":
            return self._events(version, segments, query, served)
        if resource not in KINDS or len(segments) > 2:
            return message(404, "not found")
        model = served.model
        prefix = f"/{version}/{resource}"
        if len(segments) == 2:
            record = model.find(resource, segments[1])
            if record is None:
                return message(404, f"no {resource[:-1]} with id {segments[1]}")
            if served.quirks:
                record = quirky(resource, record)
            return data_api.single(record["id"], record, uri_prefix=prefix)
        records = model.collection(resource)
        if served.quirks:
            records = [quirky(resource, r) for r in records]
        role = query.get("role")
        if resource == "users" and role:
            if role not in ("contact", "district_admin", "staff", "student", "teacher"):
                return message(400, f"unknown role {role!r}")
            records = [r for r in records if (r.get("roles") or {}).get(role)]
        items = [(r["id"], r) for r in records]
        return data_api.page(items, path=prefix, query=query, keep=("role",), uri_prefix=prefix)

    def _events(
        self, version: str, segments: list[str], query: dict[str, str], served: ServedDistrict
    ) -> Reply:
        prefix = f"/{version}/events"
        log = served.events
        if len(segments) == 2:
            event = log.find(segments[1])
            if event is None:
                return message(404, f"no event with id {segments[1]}")
            return data_api.single(event.id, event.body(), uri_prefix=prefix)
        try:
            log.check_cursor(query.get("starting_after"))
        except EventGone:
            return message(
                404,
                "starting_after names an event that is no longer available; "
                "resync from the Data API",
            )
        record_types = query.get("record_type", "").split(",")
        events = log.select(record_types=record_types, school=query.get("school"))
        items = [(e.id, e.body()) for e in events]
        return data_api.page(
            items, path=prefix, query=query, keep=("record_type", "school"), uri_prefix=prefix
        )

    def _user_token_api(self, version: str, segments: list[str], who: Identity | None) -> Reply:
        # An SSO user token reaches only its own user and district records.
        if who is None or len(segments) != 2:
            return message(403, "a user token cannot list records; use the district-app token")
        served = self.district(who.district_id)
        kind, record_id = segments
        allowed = (kind == "users" and record_id == who.user["id"]) or (
            kind == "districts" and record_id == who.district_id
        )
        record = served.model.find(kind, record_id) if allowed else None
        if record is None:
            return message(404, "not found")
        return data_api.single(record_id, record, uri_prefix=f"/{version}/{kind}")

    def _find_user(self, user_id: str) -> tuple[str, Record] | None:
        with self._lock:
            districts = list(self._districts.values())
        for served in districts:
            record = served.model.find("users", user_id)
            if record is not None:
                return served.district_id, record
        return None


def _unauthorized(text: str = "invalid or missing token") -> Reply:
    return message(401, text, [("WWW-Authenticate", 'Bearer error="invalid_token"')])


def _refusal(firing: Iterable[Fault], now: float) -> Reply | None:
    for fault in firing:
        if fault.kind == "429-burst":
            # Clever documents X-RateLimit-Reset (a Unix time) on rate-limited answers and a limit
            # of 1200 requests a minute per token; Retry-After only when the fault sets one.
            wait = fault.retry_after if fault.retry_after is not None else 60.0
            headers = [
                ("X-RateLimit-Limit", str(RATE_LIMIT)),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", str(int(now + wait + 0.999))),
            ]
            if fault.retry_after is not None:
                headers.append(("Retry-After", f"{fault.retry_after:g}"))
            return message(429, "rate limit exceeded", headers)
        if fault.kind == "5xx":
            return message(fault.status, "Clever is having trouble; try again later")
        if fault.kind == "expired-token":
            return _unauthorized("the district-app token is no longer valid")
    return None
