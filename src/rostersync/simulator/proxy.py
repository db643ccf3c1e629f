"""The ClassLink OneRoster proxy: `/applications` for a partner key, and per-district 1.1 data.

    GET /applications?limit=&offset=          Authorization: Bearer <partner key>
        {"status": 1, "applications": [{"id", "tenant_name", "tenant_id", "application_id",
         "bearer", "name", "oneroster_application_id", "enabled": "true",
         "tenant_status": "Active"}, ...]}       (paged, and no count headers, as ClassLink does)
    GET /{oneroster_application_id}/ims/oneroster/v1p1/<endpoint>   Authorization: Bearer <bearer>

A tenant appears only once it is `share`d, as a district shares its roster in the ClassLink
console. Its `oneroster_application_id` is already percent-escaped (`springfield%3A1`) and is
matched against the raw path, so a client that re-encodes it gets a 404, as it would in
production. `rotate_bearer` issues a new bearer and makes the old one answer 401.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from rostersync.simulator.endpoints import ENDPOINTS
from rostersync.simulator.query import QueryError, parse_paging
from rostersync.simulator.response import Response, failure
from rostersync.simulator.router import BASE_PATH, Router


@dataclass(slots=True)
class Application:
    """One district that shared its roster with the partner."""

    id: str
    tenant: str
    tenant_name: str
    tenant_id: str
    application_id: str
    name: str
    oneroster_application_id: str
    bearer: str = field(repr=False)

    def row(self) -> dict[str, Any]:
        """The row `/applications` lists, with ClassLink's string booleans."""
        return {
            "id": self.id,
            "tenant_name": self.tenant_name,
            "tenant_id": self.tenant_id,
            "application_id": self.application_id,
            "bearer": self.bearer,
            "name": self.name,
            "oneroster_application_id": self.oneroster_application_id,
            "enabled": "true",
            "tenant_status": "Active",
        }


class ProxyService:
    """The proxy in front of a router's tenants.

    Args:
        router: The tenants whose data the proxy serves.
        partner_key: The partner API key `/applications` accepts; random when not given.
    """

    def __init__(self, router: Router, *, partner_key: str | None = None) -> None:
        self.partner_key = partner_key or secrets.token_hex(16)
        self._router = router
        self._apps: dict[str, Application] = {}
        self._lock = threading.Lock()
        self.application_requests = 0

    def share(self, tenant: str, *, tenant_id: str | None = None) -> Application:
        """List a tenant under `/applications` (idempotent); returns its application.

        Raises:
            KeyError: No tenant has this name.
        """
        served = self._router.tenant(tenant)
        with self._lock:
            app = self._apps.get(served.name)
            if app is None:
                n = len(self._apps) + 1
                app = Application(
                    id=str(1000 + n),
                    tenant=served.name,
                    tenant_name=served.name.replace("-", " ").title(),
                    tenant_id=tenant_id or str(2000 + n),
                    application_id=str(3000 + n),
                    name="rostersync",
                    # Escaped once here; the client must put it in the path as is.
                    oneroster_application_id=quote(f"{served.name}:{n}", safe=""),
                    bearer=str(uuid.uuid4()),
                )
                self._apps[served.name] = app
            return app

    def rotate_bearer(self, tenant: str) -> str:
        """Give the tenant's application a new bearer; the old one is refused from now on.

        Raises:
            KeyError: The tenant has not been shared.
        """
        with self._lock:
            app = self._apps[tenant]
            app.bearer = str(uuid.uuid4())
            return app.bearer

    def handle(
        self, method: str, target: str, host: str, authorization: str | None, body: bytes
    ) -> Response | None:
        """Answer `/applications` and shared tenants' data paths; None for anything else."""
        if target.startswith(("http://", "https://")):
            return None
        raw_path, _, raw_query = target.partition("?")
        if raw_path == "/applications":
            return self._applications(authorization, raw_query)
        segments = raw_path.split("/")
        if len(segments) < 5 or tuple(segments[2:5]) != BASE_PATH:
            return None
        with self._lock:
            app = next(
                (a for a in self._apps.values() if a.oneroster_application_id == segments[1]),
                None,
            )
            bearer = app.bearer if app is not None else ""
        if app is None:
            return None
        if not _bearer_matches(authorization, bearer):
            challenge = [("WWW-Authenticate", 'Bearer realm="oneroster-proxy"')]
            return failure(401, "unauthorized", "invalid bearer token", challenge)
        if method != "GET":
            return failure(405, "invaliddata", "OneRoster rostering is read-only: use GET")
        tenant = self._router.tenant(app.tenant)
        url = f"http://{host}{target}"
        rest = [unquote(s) for s in segments[5:]]
        if len(rest) > 2:
            return self._router.related(tenant, rest, url, raw_query)
        endpoint = ENDPOINTS.get(rest[0]) if rest else None
        if endpoint is None:
            return failure(404, "unknownobject", "unknown OneRoster endpoint")
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        try:
            # The 1.1 router's own answers (faults and quirks included), so the proxy pages and
            # misbehaves exactly as a Roster Server does.
            return self._router.read(tenant, endpoint, rest, url, pairs)
        except QueryError as exc:
            return failure(400, exc.code_minor, exc.description)

    def _applications(self, authorization: str | None, raw_query: str) -> Response:
        with self._lock:
            self.application_requests += 1
            rows = [a.row() for a in self._apps.values()]
        if not _bearer_matches(authorization, self.partner_key):
            return Response(401, {"status": 0, "error": "invalid partner key"})
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        try:
            paging = parse_paging(params)
        except QueryError as exc:
            return Response(400, {"status": 0, "error": exc.description})
        page = rows[paging.offset : paging.offset + paging.limit]
        return Response(200, {"status": 1, "applications": page})


def _bearer_matches(authorization: str | None, expected: str) -> bool:
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), expected.encode()
    )
