"""Turns one received request into a `Response`: tenant, OAuth, endpoint, query, paging.

Kept free of socket code so the whole protocol can be reasoned about (and tested) as a function of
method, request target, Host header and Authorization header.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from rostersync.simulator import faults
from rostersync.simulator.endpoints import ENDPOINTS, FIELDS, Endpoint
from rostersync.simulator.query import (
    QueryError,
    check_query,
    link_header,
    parse_fields,
    parse_paging,
    parse_selection,
    project,
)
from rostersync.simulator.quirks import dress, dress_all, paging_headers
from rostersync.simulator.relationships import answer_related, is_relationship
from rostersync.simulator.response import Response, failure, with_warnings
from rostersync.simulator.tenant import Tenant
from rostersync.simulator.verifier import AuthFailure, OAuthVerifier

BASE_PATH = ("ims", "oneroster", "v1p1")

# Another protocol served beside 1.1 (1.2, OAuth 2 tokens, the proxy): it answers a request it
# owns, or None to let the next mount, and finally 1.1, have it.
Mount = Callable[[str, str, str, str | None, bytes], Response | None]


class Router:
    """Holds the tenants and answers requests for them.

    Args:
        clock: Current Unix time in seconds, for OAuth timestamp checks.
        window: Allowed OAuth timestamp skew in seconds.
    """

    def __init__(self, *, clock: Callable[[], float], window: int = 300) -> None:
        self.verifier = OAuthVerifier(clock=clock, window=window)
        self._tenants: dict[str, Tenant] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.mounts: list[Mount] = []

    def add(self, tenant: Tenant) -> None:
        """Serve another tenant; its name must be new."""
        with self._lock:
            if tenant.name in self._tenants:
                raise ValueError(f"tenant {tenant.name!r} already exists")
            self._tenants[tenant.name] = tenant
            self._counts[tenant.name] = 0

    def tenant(self, name: str) -> Tenant:
        """The tenant with this name. Raises KeyError."""
        with self._lock:
            return self._tenants[name]

    def request_count(self, name: str) -> int:
        """Requests received under the tenant's prefix, including refused ones. Raises KeyError."""
        with self._lock:
            return self._counts[name]

    def handle(
        self, method: str, target: str, host: str, authorization: str | None, body: bytes = b""
    ) -> Response:
        """Answer one request.

        Args:
            method: HTTP method.
            target: The raw request target (path and query as sent, or an absolute URL).
            host: The Host header (or the server's address when absent).
            authorization: The Authorization header, if any.
            body: The request body (read for POST only; the token endpoint needs it).
        """
        for mount in self.mounts:
            answer = mount(method, target, host, authorization, body)
            if answer is not None:
                return answer
        if target.startswith(("http://", "https://")):
            url = target
            parts = urlsplit(target)
            raw_path, raw_query = parts.path, parts.query
        else:
            url = f"http://{host}{target}"
            raw_path, _, raw_query = target.partition("?")
        segments = raw_path.split("/")
        if len(segments) < 5 or tuple(segments[2:5]) != BASE_PATH:
            return failure(404, "unknownobject", "no OneRoster service at this path")
        with self._lock:
            tenant = self._tenants.get(unquote(segments[1]))
            if tenant is not None:
                self._counts[tenant.name] += 1
        if tenant is None:
            return failure(404, "unknownobject", "no OneRoster service at this path")
        try:
            self.verifier.verify(method, url, authorization, key=tenant.key, secret=tenant.secret)
        except AuthFailure as exc:
            challenge = ("WWW-Authenticate", f'OAuth realm="{tenant.name}"')
            return failure(401, "unauthorized", exc.description, [challenge])
        if method != "GET":
            allow = [("Allow", "GET")]
            return failure(405, "invaliddata", "OneRoster rostering is read-only: use GET", allow)
        rest = [unquote(s) for s in segments[5:]]
        if len(rest) > 2:
            return self.related(tenant, rest, url, raw_query)
        endpoint = ENDPOINTS.get(rest[0]) if rest else None
        if endpoint is None or len(rest) > 2:
            return failure(404, "unknownobject", "unknown OneRoster endpoint")
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        try:
            return self.read(tenant, endpoint, rest, url, pairs)
        except QueryError as exc:
            return failure(400, exc.code_minor, exc.description)

    def read(
        self,
        tenant: Tenant,
        endpoint: Endpoint,
        rest: list[str],
        url: str,
        pairs: list[tuple[str, str]],
        *,
        served: Tenant | None = None,
        strict_fields: bool = False,
    ) -> Response:
        """Answer a collection or singleton read, misbehaving as the tenant's faults say.

        The OneRoster 1.1, 1.2 and proxy routes all answer through here, so every fault and
        quirk reaches every door.

        Args:
            tenant: Whose faults and quirks apply (and whose data a `change` fault replaces).
            endpoint: The collection.
            rest: The path after the base: [collection] or [collection, sourcedId].
            url: The request URL, for the Link header.
            pairs: The query parameters as sent.
            served: Whose records to answer with, when not `tenant`'s own (the 1.2 route
                serves a converted copy).
            strict_fields: Refuse an unknown `fields=` name (1.2) instead of warning (1.1),
                and ignore an unknown sort field silently (1.2) rather than warn.

        Raises:
            QueryError: A bad filter, sort, fields or paging parameter.
        """
        params = _first_values(pairs)
        served = served or tenant
        # Faults count only requests that would otherwise be answered, so `nth` is predictable.
        firing = tenant.faults.decide(rest[0])
        refused = faults.refusal(firing)
        if refused is not None:
            return refused
        warnings = check_query(
            params, endpoint.fields, strict=strict_fields, collection=len(rest) == 1
        )
        if len(rest) == 2:
            response = self._singleton(served, endpoint, rest[1], params, tenant.quirks)
        else:
            base = url.partition("?")[0]
            response = self._collection(served, endpoint, base, pairs, params, tenant.quirks)
        if response.status == 200:
            response = with_warnings(response, warnings)
        return faults.deliver(firing, response, tenant)

    def related(
        self,
        tenant: Tenant,
        rest: list[str],
        url: str,
        raw_query: str,
        *,
        served: Tenant | None = None,
        fields: Mapping[str, frozenset[str]] = FIELDS,
        strict_fields: bool = False,
    ) -> Response:
        """Answer a relationship path (`/classes/{id}/students`, …) through faults and quirks.

        Faults count it under its first path segment (`classes`), as the collection it hangs
        from; the arguments are those of `read`, plus the properties per resource type.
        """
        if not is_relationship(rest):
            return failure(404, "unknownobject", "unknown OneRoster endpoint")
        firing = tenant.faults.decide(rest[0])
        refused = faults.refusal(firing)
        if refused is not None:
            return refused
        response = answer_related(
            served or tenant,
            rest,
            url,
            raw_query,
            fields=fields,
            quirks=tenant.quirks,
            strict_fields=strict_fields,
        )
        return faults.deliver(firing, response, tenant)

    def _singleton(
        self,
        tenant: Tenant,
        endpoint: Endpoint,
        sourced_id: str,
        params: dict[str, str],
        quirks: bool,
    ) -> Response:
        record = tenant.find(endpoint, sourced_id)
        if record is None:
            description = f"no {endpoint.singular} with sourcedId {sourced_id!r}"
            return failure(404, "unknownobject", description)
        fields = parse_fields(params, endpoint.fields)
        if quirks:
            return Response(
                200, {endpoint.singular: dress(project(record, fields), endpoint.source)}
            )
        return Response(200, {endpoint.singular: project(record, fields)})

    def _collection(
        self,
        tenant: Tenant,
        endpoint: Endpoint,
        base: str,
        pairs: list[tuple[str, str]],
        params: dict[str, str],
        quirks: bool,
    ) -> Response:
        paging = parse_paging(params)
        selection = parse_selection(params, endpoint.fields)
        fields = parse_fields(params, endpoint.fields)
        records = tenant.view(endpoint, selection, fresh=paging.offset == 0)
        page = records[paging.offset : paging.offset + paging.limit]
        total = len(records)
        if quirks:
            served = dress_all((project(r, fields) for r in page), endpoint.source)
            return Response(200, {endpoint.envelope: served}, paging_headers(total, len(page)))
        headers = [
            ("X-Total-Count", str(total)),
            ("X-Count", str(len(page))),
            ("Link", link_header(base, pairs, paging, total)),
        ]
        return Response(200, {endpoint.envelope: [project(r, fields) for r in page]}, headers)


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key, value)
    return params
