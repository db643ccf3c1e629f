"""Every route of every router names its gates (web/gates.py), and every state-changing route
refuses a request without a session, or without its CSRF token, before it acts.

The first tests read the gates off the app itself: each route's dependency tree, in the order
FastAPI resolves it. A router that drops a gate, or a new route without one, fails here; a route
open to anyone is in `PUBLIC`, with the reason. The last tests send the requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from tests.integration.admin.conftest import AdminWorld, staff_sign_in

from rostersync.web import gates
from rostersync.web.app import create_app

# Routes anyone may call, and why; a few of them still carry a gate of their own (`OWN_GATE`).
PUBLIC = {
    ("GET", "/"): "the home page sends a visitor without a session to /login itself",
    ("GET", "/login"): "the login page (ClassLink and Clever districts)",
    ("GET", "/login/start"): "starts a ClassLink or Clever login, bound to this browser",
    ("GET", "/oauth/callback"): "ClassLink's redirect back; its state is the check",
    ("GET", "/oauth/clever/callback"): "Clever's redirect back; its state is the check",
    ("POST", "/logout"): "ends the cookie's session; SameSite=Lax keeps other sites out",
    ("GET", "/staff/login"): "the staff sign-in page",
    ("POST", "/staff/login"): "a sign-in: its form token matches its cookie (login CSRF)",
    ("GET", "/staff/login/code"): "the TOTP step, bound to the code cookie",
    ("POST", "/staff/login/code"): "the TOTP step, bound to the code cookie",
    ("POST", "/staff/logout"): "ends the cookie's session; SameSite=Lax keeps other sites out",
    ("GET", "/staff/invitation/{token}"): "the invitation's token is the credential",
    ("POST", "/staff/invitation/{token}"): "the token, and a form token bound to its cookie",
    ("GET", "/metrics"): "vendor staff or loopback, said by the MetricsReader gate",
    ("GET", "/api/docs"): "the API's documentation page",
}
OWN_GATE: dict[tuple[str, str], Callable[..., Any]] = {
    ("GET", "/"): gates.signed_in_viewer,
    ("GET", "/login/start"): gates.login_binding,
    ("GET", "/oauth/callback"): gates.login_binding,
    ("GET", "/oauth/clever/callback"): gates.login_binding,
    ("POST", "/staff/login"): gates.login_form_fresh,
    ("POST", "/staff/invitation/{token}"): gates.login_form_fresh,
    ("GET", "/metrics"): gates.metrics_reader,
}
# Served without a FastAPI route: the API document and static files.
NOT_ROUTES = {"/api/openapi.json", "/static", "/api/docs/assets"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PAGE_CSRF = {gates.require_form_csrf, gates.require_upload_csrf, gates.require_viewer_form_csrf}


@dataclass(frozen=True)
class Route:
    """One method of one route of the portal, with its gates in the order they run."""

    method: str
    path: str
    gates: list[Callable[..., Any]]

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def pushed(self) -> bool:
        return "/bundles" in self.path

    def first(self, wanted: set[Callable[..., Any]]) -> int:
        return next(i for i, call in enumerate(self.gates) if call in wanted)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def resolved(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """The dependencies of a route, depth first, in the order FastAPI calls them."""
    for sub in dependant.dependencies:
        yield from resolved(sub)
        if sub.call is not None:
            yield sub.call


def routes_of(app: FastAPI, prefix: str = "") -> Iterator[Route | str]:
    """Every route of the app and of the apps mounted in it; a path for what is not a route."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = prefix + (context.path or "")
        if isinstance(route, Mount) and isinstance(route.app, FastAPI):
            yield from routes_of(route.app, path)
            continue
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            yield path
            continue
        for method in sorted(context.methods or ()):
            yield Route(method, path, list(resolved(dependant)))


@pytest.fixture(scope="module")
def portal(world: AdminWorld) -> list[Route]:
    found = list(routes_of(create_app(world.service)))
    assert {p for p in found if isinstance(p, str)} == NOT_ROUTES
    return [r for r in found if isinstance(r, Route)]


class TestEveryRouteNamesItsGates:
    """Read off the dependency trees: no request is sent."""

    def test_every_router_is_seen(self, portal: list[Route]) -> None:
        paths = {r.path for r in portal}
        for path in (
            "/students/{student_id}/eligibility",
            "/students/of-class/{class_id}/eligibility",
            "/admin/runs/{run_id}/approve",
            "/admin/onboarding/{slug}/source",
            "/admin/districts/{slug}/import",
            "/admin/districts/{slug}/search",
            "/admin/districts/{slug}/recipients",
            "/admin/api-tokens",
            "/metrics",
            "/api/v1/districts/{slug}/imports",
            "/api/v1/districts/{slug}/bundles",
        ):
            assert path in paths, path
        assert {(r.method, r.path) for r in portal} >= set(PUBLIC)

    def test_public_routes_keep_their_own_gate(self, portal: list[Route]) -> None:
        for route in portal:
            gate = OWN_GATE.get((route.method, route.path))
            if gate is not None:
                assert gate in route.gates, route

    def test_every_other_route_needs_a_session(self, portal: list[Route]) -> None:
        for route in portal:
            if (route.method, route.path) in PUBLIC:
                continue
            if route.pushed:
                assert gates.require_push_key in route.gates, route
            elif route.path.startswith("/students/"):
                assert gates.require_viewer_form_csrf in route.gates, route
            elif route.api:
                # JSON refusals (401), never the pages' redirect to the sign-in page.
                assert gates.require_api_staff in route.gates, route
                assert gates.require_staff not in route.gates, route
            else:
                assert gates.require_staff in route.gates, route
                assert gates.require_api_staff not in route.gates, route

    def test_a_district_or_run_in_the_path_is_in_scope(self, portal: list[Route]) -> None:
        for route in portal:
            if "{slug}" in route.path:
                wanted = (
                    gates.require_push_key
                    if route.pushed
                    else gates.require_api_district
                    if route.api
                    else gates.require_district_in_scope
                )
                assert wanted in route.gates, route
            if "{run_id}" in route.path:
                wanted = gates.require_api_run if route.api else gates.require_run_in_scope
                assert wanted in route.gates, route

    def test_every_write_with_a_session_checks_its_csrf_token(self, portal: list[Route]) -> None:
        for route in portal:
            if route.method not in WRITES or (route.method, route.path) in PUBLIC:
                continue
            if route.pushed:
                continue  # HTTP Basic, no cookie: nothing a cross-site form could borrow
            csrf = {gates.require_header_csrf} if route.api else PAGE_CSRF
            assert csrf & set(route.gates), route
            scope = {
                gates.require_district_in_scope,
                gates.require_run_in_scope,
                gates.require_api_district,
                gates.require_api_run,
            }
            if scope & set(route.gates) and not route.api:
                # A page's out-of-scope district is the 404 page, whatever the token says.
                assert route.first(scope) < route.first(csrf), route


# The requests -----------------------------------------------------------------------------------
def writes(portal: list[Route]) -> list[Route]:
    return [r for r in portal if r.method in WRITES and (r.method, r.path) not in PUBLIC]


def concrete(path: str, run_id: str) -> str:
    return (
        path.replace("{slug}", "springfield")
        .replace("{run_id}", run_id)
        .replace("{student_id}", "someone")
    )


def send(client: httpx.Client, route: Route, path: str) -> httpx.Response:
    if route.path.endswith("/import") or route.path.endswith("/imports"):
        # An upload: the file's part comes after the (missing) CSRF field.
        files = {"file": ("staff.csv", b"first_name,last_name\n", "text/csv")}
        return client.request(route.method, path, files=files)
    return client.request(route.method, path, data={"status": "confirmed"})


@pytest.fixture(scope="module")
def run_id(world: AdminWorld) -> str:
    with httpx.Client(base_url=world.url, timeout=30) as vendor:
        assert staff_sign_in(vendor, world.vendor.email).status_code == 303
        runs = vendor.get("/api/v1/districts/springfield/runs").json()
    assert runs, "the sandbox synced Springfield"
    found: str = runs[0]["id"]
    return found


class TestEveryWriteRefusesWithoutItsGates:
    """The same routes, asked for real: nothing is done, and the refusal is the gate's."""

    def test_without_a_session(self, world: AdminWorld, portal: list[Route], run_id: str) -> None:
        with httpx.Client(base_url=world.url, timeout=30) as stranger:
            for route in writes(portal):
                path = concrete(route.path, run_id)
                response = send(stranger, route, path)
                where = response.headers.get("location", "")
                if route.pushed:
                    assert response.status_code == 401, route
                    assert response.headers["www-authenticate"].startswith("Basic"), route
                elif route.api:
                    assert response.status_code == 401, route
                    assert response.json() == {"detail": "sign in at /staff/login first"}
                elif route.path.startswith("/students/"):
                    assert (response.status_code, where) == (303, "/login"), route
                else:
                    assert response.status_code == 303, route
                    assert where == f"/staff/login?next={path}", route

    def test_with_a_session_but_no_csrf_token(
        self, world: AdminWorld, portal: list[Route], run_id: str
    ) -> None:
        with httpx.Client(base_url=world.url, timeout=30) as vendor:
            assert staff_sign_in(vendor, world.vendor.email).status_code == 303
            for route in writes(portal):
                if route.pushed or route.path.startswith("/students/"):
                    continue  # no staff session to borrow (push key; a ClassLink session)
                response = send(vendor, route, concrete(route.path, run_id))
                assert response.status_code == 403, (route, response.text[:200])
                if route.api:
                    detail = "send the session's csrf_token (GET /api/v1/session)"
                    assert response.json() == {"detail": detail}, route
                else:
                    assert "This form expired" in response.text, route
