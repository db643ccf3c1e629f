"""A sign-in world per database backend: both ClassLink simulators and the portal on loopback.

Springfield (tenant 1001, live, eligibility confirmed in the portal) and Shelbyville (tenant 1002,
live, eligibility from ClassLink) are generated with the same counters, so the same sourcedIds
exist in both: the isolation tests lean on that. Ogdenville (1003) is onboarded but not live;
ClassLink also knows Capital City (1004), which never onboarded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district
from rostersync.simulator.sso import SsoFault

NEWCOMER = {
    "sourcedId": "stu-new-0001",
    "status": "active",
    "role": "student",
    "givenName": "Nova",
    "familyName": "Newcomer",
    "email": "nova.newcomer@springfield.example",
    "username": "nnewcomer",
}


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("web")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        sso_timeout_seconds=2.0,
    )
    districts = [
        sandboxes.springfield(60, sso_only_users=[NEWCOMER]),
        SandboxDistrict(
            slug="shelbyville",
            tenant_id="1002",
            display_name="Shelbyville SD – Shelbyville, IL",
            data=generate_district(students=60, seed=4, tenant="shelbyville"),
            eligibility_source="metadata",
        ),
        SandboxDistrict(
            slug="ogdenville",
            tenant_id="1003",
            display_name="Ogdenville SD – Ogdenville, IL",
            data=generate_district(students=10, seed=5, tenant="ogdenville"),
            live=False,
        ),
        SandboxDistrict(
            slug="capital",
            tenant_id="1004",
            display_name="Capital City SD – Capital City, IL",
            data=generate_district(students=10, seed=6, tenant="capital"),
            onboarded=False,
        ),
    ]
    with Sandbox(settings, districts) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def well_behaved(world: Sandbox) -> Iterator[None]:
    """Each test starts with a well-behaved ClassLink and a relying party with no cached keys."""
    world.sso.fault = SsoFault.NONE
    world.fresh_relying_party()
    yield
    world.sso.fault = SsoFault.NONE


@pytest.fixture
def browser(world: Sandbox) -> Iterator[httpx.Client]:
    """One browser: a cookie jar that follows no redirects by itself."""
    with httpx.Client(base_url=world.url, timeout=10) as client:
        yield client


@dataclass
class Callback:
    """Where ClassLink sent the browser back to, and what it carried."""

    url: str
    code: str
    state: str | None


def person_of(world: Sandbox, tenant_id: str, role: str, index: int = 0) -> Any:
    """A rostered person of a role ("Student" or "Teacher") in a tenant, in roster order.

    Teachers are the generator's `tch-` users, who teach classes (other staff show as "Teacher"
    at ClassLink too, but have none).
    """
    prefix = "stu-0" if role == "Student" else "tch-"
    found = [p for p in world.sso.people(tenant_id) if p.sourced_id.startswith(prefix)]
    return found[index]


def authorize(browser: httpx.Client, world: Sandbox, district_slug: str) -> httpx.Response:
    """Choose a district on the login page; returns the redirect to ClassLink."""
    response = browser.get("/login/start", params={"district": world.district_ids[district_slug]})
    assert response.status_code == 303, response.text
    return response


def pick(browser: httpx.Client, authorize_url: str, tenant_id: str, sourced_id: str) -> Callback:
    """Submit ClassLink's form as one person; returns the callback ClassLink redirects to.

    Posting the form directly also covers a browser ClassLink already knows (it would answer
    the GET at once): picking someone is how a shared device switches person at ClassLink.
    """
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    response = browser.post(
        authorize_url.split("?")[0], data={**query, "person": f"{tenant_id}:{sourced_id}"}
    )
    assert response.status_code == 302, response.text
    return callback_of(response.headers["location"])


def callback_of(location: str) -> Callback:
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return Callback(location, query["code"], query.get("state"))


def sign_in(
    browser: httpx.Client, world: Sandbox, district_slug: str, tenant_id: str, sourced_id: str
) -> httpx.Response:
    """The whole login; returns the portal's answer to the callback."""
    start = authorize(browser, world, district_slug)
    callback = pick(browser, start.headers["location"], tenant_id, sourced_id)
    return browser.get(callback.url)


def session_cookie(browser: httpx.Client) -> str | None:
    return browser.cookies.get("rostersync_session")


def reference(response: httpx.Response) -> str:
    """The reason code a refusal page shows."""
    found = re.search(r"Reference: <code>([^<]+)</code>", response.text)
    assert found, response.text
    return found.group(1)
