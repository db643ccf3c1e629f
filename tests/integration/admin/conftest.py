"""An admin world per database backend: two live districts synced from the simulator, the portal
on loopback, and three staff accounts (vendor staff, and a data manager for each district).

Springfield is generated with planted bad records, so it has open validation issues.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Staff:
    """A staff account the tests sign in as."""

    email: str
    id: str


@dataclass
class AdminWorld:
    """The sandbox plus its staff accounts."""

    sandbox: Sandbox
    vendor: Staff
    dm_springfield: Staff
    dm_shelbyville: Staff

    @property
    def service(self) -> Any:
        assert self.sandbox.service is not None
        return self.sandbox.service

    @property
    def url(self) -> str:
        return self.sandbox.url


def add_staff(sandbox: Sandbox, email: str, role: str, district: str | None) -> Staff:
    """A staff account on the sandbox's portal ("Pat Staff", signing in with PASSWORD)."""
    return Staff(
        email, sandboxes.add_staff(sandbox, email, role, password=PASSWORD, district=district)
    )


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminWorld]:
    tmp: Path = tmp_path_factory.mktemp("admin")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        sso_timeout_seconds=2.0,
    )
    districts = [
        sandboxes.springfield(40, bad_records=True),
        SandboxDistrict(
            slug="shelbyville",
            tenant_id="1002",
            display_name="Shelbyville SD – Shelbyville, IL",
            data=generate_district(students=30, seed=4, tenant="shelbyville"),
        ),
    ]
    with Sandbox(settings, districts) as sandbox:
        yield AdminWorld(
            sandbox=sandbox,
            vendor=add_staff(sandbox, "vendor@portal.example", "vendor_staff", None),
            dm_springfield=add_staff(
                sandbox, "dm@springfield.example", "data_manager", "springfield"
            ),
            dm_shelbyville=add_staff(
                sandbox, "dm@shelbyville.example", "data_manager", "shelbyville"
            ),
        )


@pytest.fixture
def browser(world: AdminWorld) -> Iterator[httpx.Client]:
    """One browser: a cookie jar that follows no redirects by itself."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        yield client


def form_csrf(page: str) -> str:
    """The first CSRF token in a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def staff_sign_in(
    browser: httpx.Client, email: str, password: str = PASSWORD, next_path: str = "/admin/districts"
) -> httpx.Response:
    """Open the staff sign-in page and submit it."""
    csrf = form_csrf(browser.get("/staff/login").text)
    return browser.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf": csrf, "next": next_path},
    )


def session_cookie(browser: httpx.Client) -> str | None:
    return browser.cookies.get("rostersync_session")


def api_csrf(browser: httpx.Client) -> str:
    response = browser.get("/api/v1/session")
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
