"""The OneRoster relationship endpoints: `/schools/{id}/students`, `/classes/{id}/teachers`, ….

They answer the same records as the top-level collections, narrowed by a parent, with the same
paging, filter, sort and fields, and the envelope of the resource type returned (`users`,
`classes`, …), never of the path. They read users of either shape: 1.1 (`role`, `orgs`) and 1.2
(`roles[]`), so the 1.2 service and the proxy reuse them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from rostersync.simulator.endpoints import ENDPOINTS, FIELDS
from rostersync.simulator.query import (
    QueryError,
    check_query,
    link_header,
    parse_fields,
    parse_paging,
    parse_selection,
    project,
)
from rostersync.simulator.quirks import dress_all, paging_headers
from rostersync.simulator.response import Response, failure, with_warnings
from rostersync.simulator.tenant import Tenant

Record = dict[str, Any]

# The resource type a relationship returns, by its last path segment.
_ENVELOPES = {
    "students": "users",
    "teachers": "users",
    "classes": "classes",
    "courses": "courses",
    "enrollments": "enrollments",
    "terms": "academicSessions",
    "gradingPeriods": "academicSessions",
}


def is_relationship(rest: list[str]) -> bool:
    """Whether decoded path segments after the base name a relationship endpoint's shape."""
    return len(rest) >= 3 and rest[-1] in _ENVELOPES


def ref_id(value: object) -> str | None:
    """The sourcedId of a GUIDRef (or of a bare id)."""
    if isinstance(value, Mapping):
        value = value.get("sourcedId")
    return value if isinstance(value, str) else None


def user_role(user: Mapping[str, Any]) -> str:
    """A user's role: the 1.1 `role`, else the first primary entry of the 1.2 `roles[]`."""
    role = user.get("role")
    if isinstance(role, str) and role:
        return role
    roles = [r for r in user.get("roles") or [] if isinstance(r, Mapping)]
    primary = next((r for r in roles if r.get("roleType") == "primary"), None)
    chosen = primary or (roles[0] if roles else {})
    return str(chosen.get("role", ""))


def user_orgs(user: Mapping[str, Any]) -> list[str]:
    """The sourcedIds of a user's orgs, from 1.1 `orgs` or 1.2 `roles[].org`."""
    refs = user["orgs"] if "orgs" in user else [r.get("org") for r in user.get("roles") or []]
    return [sid for sid in (ref_id(r) for r in refs) if sid is not None]


def _unknown(kind: str, sourced_id: str) -> Response:
    return failure(404, "unknownobject", f"no {kind} with sourcedId {sourced_id!r}")


def _members(data: Any, class_id: str, role: str | None) -> list[Record]:
    # Users in enrollment order; an enrollment may name a user that no longer exists.
    wanted = [
        ref_id(e.get("user"))
        for e in data.enrollments
        if ref_id(e.get("class")) == class_id and (role is None or e.get("role") == role)
    ]
    by_id = {u.get("sourcedId"): u for u in data.users}
    seen: dict[str, Record] = {}
    for sid in wanted:
        if sid is not None and sid in by_id and sid not in seen:
            seen[sid] = by_id[sid]
    return list(seen.values())


def related(tenant: Tenant, rest: list[str]) -> tuple[str, list[Record]] | Response:
    """The records of a relationship path, or the failure to answer.

    Args:
        tenant: The tenant whose data is read.
        rest: The decoded path segments after the base path, e.g. ["schools", "org-1", "students"].

    Returns:
        (resource type, records) for a known path with an existing parent; otherwise a 404.
    """
    data = tenant.data
    head, parent, tail = rest[0], rest[1], rest[2:]
    leaf = tail[-1]
    if head == "schools":
        school = tenant.find(ENDPOINTS["schools"], parent)
        if school is None:
            return _unknown("school", parent)
        if len(tail) == 3 and tail[0] == "classes":
            klass = tenant.find(ENDPOINTS["classes"], tail[1])
            if klass is None or ref_id(klass.get("school")) != parent:
                return _unknown("class in this school", tail[1])
            if leaf in ("students", "teachers"):
                return "users", _members(data, tail[1], leaf[:-1])
            if leaf == "enrollments":
                return "enrollments", [
                    e for e in data.enrollments if ref_id(e.get("class")) == tail[1]
                ]
        elif len(tail) == 1:
            if leaf in ("students", "teachers"):
                users = [
                    u for u in data.users if user_role(u) == leaf[:-1] and parent in user_orgs(u)
                ]
                return "users", users
            if leaf == "classes":
                return "classes", [c for c in data.classes if ref_id(c.get("school")) == parent]
            if leaf == "courses":
                return "courses", [c for c in data.courses if ref_id(c.get("org")) == parent]
            if leaf == "enrollments":
                return "enrollments", [
                    e for e in data.enrollments if ref_id(e.get("school")) == parent
                ]
            if leaf == "terms":
                # Sessions carry no org in 1.1: a school's terms are those its classes run in.
                used = {
                    ref_id(t)
                    for c in data.classes
                    if ref_id(c.get("school")) == parent
                    for t in c.get("terms") or []
                }
                terms = [
                    s
                    for s in data.academicSessions
                    if s.get("type") == "term" and s.get("sourcedId") in used
                ]
                return "academicSessions", terms
    elif len(tail) == 1:
        lookups: dict[tuple[str, str], Callable[[], tuple[str, list[Record]] | Response]] = {
            ("classes", "students"): lambda: _class_members(tenant, parent, "student"),
            ("classes", "teachers"): lambda: _class_members(tenant, parent, "teacher"),
            ("terms", "classes"): lambda: _term_children(tenant, parent, "classes"),
            ("terms", "gradingPeriods"): lambda: _term_children(tenant, parent, "gradingPeriods"),
            ("courses", "classes"): lambda: _course_classes(tenant, parent),
            ("students", "classes"): lambda: _user_classes(tenant, parent, "student"),
            ("teachers", "classes"): lambda: _user_classes(tenant, parent, "teacher"),
            ("users", "classes"): lambda: _user_classes(tenant, parent, None),
        }
        lookup = lookups.get((head, leaf))
        if lookup is not None:
            return lookup()
    return failure(404, "unknownobject", "unknown OneRoster endpoint")


def _class_members(tenant: Tenant, class_id: str, role: str) -> tuple[str, list[Record]] | Response:
    if tenant.find(ENDPOINTS["classes"], class_id) is None:
        return _unknown("class", class_id)
    return "users", _members(tenant.data, class_id, role)


def _term_children(tenant: Tenant, term_id: str, leaf: str) -> tuple[str, list[Record]] | Response:
    if tenant.find(ENDPOINTS["terms"], term_id) is None:
        return _unknown("term", term_id)
    data = tenant.data
    if leaf == "classes":
        classes = [c for c in data.classes if term_id in {ref_id(t) for t in c.get("terms") or []}]
        return "classes", classes
    periods = [
        s
        for s in data.academicSessions
        if s.get("type") == "gradingPeriod" and ref_id(s.get("parent")) == term_id
    ]
    return "academicSessions", periods


def _course_classes(tenant: Tenant, course_id: str) -> tuple[str, list[Record]] | Response:
    if tenant.find(ENDPOINTS["courses"], course_id) is None:
        return _unknown("course", course_id)
    return "classes", [c for c in tenant.data.classes if ref_id(c.get("course")) == course_id]


def _user_classes(
    tenant: Tenant, user_id: str, role: str | None
) -> tuple[str, list[Record]] | Response:
    user = tenant.find(ENDPOINTS["users"], user_id)
    if user is None or (role is not None and user_role(user) != role):
        return _unknown(role or "user", user_id)
    data = tenant.data
    class_ids = dict.fromkeys(
        ref_id(e.get("class")) for e in data.enrollments if ref_id(e.get("user")) == user_id
    )
    by_id = {c.get("sourcedId"): c for c in data.classes}
    return "classes", [by_id[c] for c in class_ids if c in by_id]


def answer_related(
    tenant: Tenant,
    rest: list[str],
    url: str,
    raw_query: str,
    *,
    fields: Mapping[str, frozenset[str]] = FIELDS,
    quirks: bool = False,
    strict_fields: bool = False,
) -> Response:
    """Answer a relationship request with paging, filter, sort and fields applied.

    Faults are not applied here: `Router.related` applies them around this, as it does for the
    collections, so every door (1.1, 1.2, the proxy) misbehaves the same way.

    Args:
        tenant: The tenant whose data is read.
        rest: The decoded path segments after the base path.
        url: The request URL (query and all); `Link` targets are built from it.
        raw_query: The undecoded query string.
        fields: The properties per resource type (the 1.2 service passes its user fields).
        quirks: Answer the way ClassLink does (`rostersync.simulator.quirks`).
        strict_fields: Refuse an unknown `fields=` name (1.2) instead of warning (1.1),
            and ignore an unknown sort field silently (1.2) rather than warn.
    """
    if not is_relationship(rest):
        return failure(404, "unknownobject", "unknown OneRoster endpoint")
    found = related(tenant, rest)
    if isinstance(found, Response):
        return found
    resource, records = found
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key, value)
    known = fields[resource]
    try:
        paging = parse_paging(params)
        selection = parse_selection(params, known)
        chosen = parse_fields(params, known)
        warnings = check_query(params, known, strict=strict_fields, collection=True)
    except QueryError as exc:
        return failure(400, exc.code_minor, exc.description)
    selected = selection.apply(records)
    page = selected[paging.offset : paging.offset + paging.limit]
    served = [project(r, chosen) for r in page]
    if quirks:
        headers = paging_headers(len(selected), len(page))
        return with_warnings(
            Response(200, {resource: dress_all(served, resource)}, headers), warnings
        )
    base = url.partition("?")[0]
    headers = [
        ("X-Total-Count", str(len(selected))),
        ("X-Count", str(len(page))),
        ("Link", link_header(base, pairs, paging, len(selected))),
    ]
    return with_warnings(Response(200, {resource: served}, headers), warnings)
