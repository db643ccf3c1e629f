# The signed-in browsers are test_onboarding's fixtures, imported by name; `world` is this file's.
# ruff: noqa: F811
"""The onboarding wizard offers Clever (Secure Sync) over real HTTP, against the Clever simulator.

The vendor's Clever app (client id, secret and both URLs) points at a Clever simulator serving
Shelbyville, which has shared the app; Ogdenville's Clever id is one the app holds no token for,
as for a district that has not shared it yet. A second portal has no Clever settings at all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, staff_sign_in
from tests.integration.web.test_onboarding import (  # noqa: F401
    accounts,
    create,
    csrf_of,
    data_manager,
    field_error,
    service_of,
    vendor,
)

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator import generate_district
from rostersync.simulator.clever import CleverSimulator, object_id
from rostersync.store.districts import get_credentials

APP_ID, APP_SECRET = "rostersync-app", "clever-app-secret-3Qd"
# A district Clever knows of, but that has not shared the vendor's app (no token for it).
NOT_SHARED = object_id("district", "ogdenville")


@pytest.fixture(scope="module")
def clever() -> Iterator[CleverSimulator]:
    with CleverSimulator(client_id=APP_ID, client_secret=APP_SECRET) as running:
        running.add_district(generate_district(students=15, seed=31, tenant="shelbyville"))
        yield running


@pytest.fixture(scope="module")
def world(
    databases: Any, tmp_path_factory: pytest.TempPathFactory, clever: CleverSimulator
) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("onboarding-clever")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        clever_client_id=APP_ID,
        clever_client_secret=APP_SECRET,
        clever_api_url=clever.url,
        clever_oauth_url=clever.url,
    )
    with Sandbox(settings, [sandboxes.springfield(10)]) as sandbox:
        yield sandbox


def shared(clever: CleverSimulator) -> tuple[str, str]:
    """The Clever id and name of the district that shared the app."""
    (district_id,) = clever.district_ids()
    (district,) = clever.district(district_id).model.collection("districts")
    return district_id, str(district["name"])


def choose_clever(
    client: httpx.Client, slug: str, key: str, action: str = "test"
) -> httpx.Response:
    data = {"source_kind": "clever", "key": key, "action": action, "csrf": csrf_of(client)}
    return client.post(f"/admin/onboarding/{slug}/source", data=data)


def problems(page: str) -> str:
    """The text of the form's problem summary."""
    found = re.search(r'<div class="note" role="alert" id="form-problems">(.*?)</div>', page, re.S)
    assert found, page
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def test_the_source_step_offers_clever_and_says_it_needs_the_clever_district_id(
    vendor: httpx.Client,
) -> None:
    create(vendor, "clever-offer")
    page = html.unescape(vendor.get("/admin/onboarding/clever-offer/source").text)
    assert 'value="clever"' in page
    assert "Clever (Secure Sync" in page
    needs = page[page.index('id="source-needs"') :].split("</ul>")[0]
    assert "Clever (Secure Sync; the district's Clever district id; vendor staff only): " in needs
    assert "Clever district id (the Clever app client id and Clever app client secret" in needs


def test_test_connection_finds_the_shared_district_and_names_it(
    vendor: httpx.Client, world: Sandbox, clever: CleverSimulator
) -> None:
    district_id, name = shared(clever)
    create(vendor, "clever-shared")
    response = choose_clever(vendor, "clever-shared", f" {district_id.upper()} ")
    assert response.status_code == 200, response.text
    said = html.unescape(response.text)
    host = urlsplit(clever.url).netloc
    assert f"Connected to Clever ({host}): the district {name} shares its roster" in said
    service = service_of(world)
    district, integration = service.districts.get("clever-shared")
    assert (integration.source_kind, integration.source_url) == ("clever", "")
    with service.engine.connect() as conn:
        assert get_credentials(conn, service.box, district.id) == (district_id.upper(), "")
    assert service.onboarding.progress("clever-shared")["source"] is True
    # The step done, the wizard goes on to the schedule.
    assert 'href="/admin/onboarding/clever-shared/schedule"' in said


def test_a_district_that_has_not_shared_is_told_to_share_the_app_in_clever(
    vendor: httpx.Client, world: Sandbox
) -> None:
    create(vendor, "clever-unshared")
    response = choose_clever(vendor, "clever-unshared", NOT_SHARED)
    assert response.status_code == 400
    said = field_error(response.text, "key")
    assert f"The district '{NOT_SHARED}' has not shared with the app in Clever" in html.unescape(
        said
    )
    assert "share the app in its Clever dashboard" in said
    assert "ClassLink" not in said
    progress = service_of(world).onboarding.progress("clever-unshared")
    assert progress["source_saved"] and not progress["source"]


def test_the_clever_district_id_is_asked_for_when_left_empty(vendor: httpx.Client) -> None:
    create(vendor, "clever-empty")
    response = choose_clever(vendor, "clever-empty", "")
    assert response.status_code == 400
    said = html.unescape(field_error(response.text, "key"))
    assert said.endswith("Enter the district's Clever district id.")


def test_a_data_manager_cannot_point_a_district_at_clever(
    data_manager: httpx.Client, world: Sandbox, clever: CleverSimulator
) -> None:
    before = service_of(world).districts.get("springfield")[1]
    response = choose_clever(data_manager, "springfield", shared(clever)[0])
    assert response.status_code == 400
    assert "Only the vendor connects a district through Clever" in html.unescape(
        field_error(response.text, "source_kind")
    )
    assert service_of(world).districts.get("springfield")[1].source_kind == before.source_kind


@pytest.fixture(scope="module")
def bare_vendor(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """Vendor staff signed in to a portal whose Clever settings are not set."""
    tmp: Path = tmp_path_factory.mktemp("onboarding-no-clever")
    with Sandbox(sandboxes.portal_settings(tmp, databases.new()), []) as bare:
        service_of(bare).staff.add_staff(
            email="vendor@portal.example", display_name="Val Vendor", role="vendor_staff",
            password=PASSWORD, district=None,
        )  # fmt: skip
        with httpx.Client(base_url=bare.url, timeout=30) as client:
            assert staff_sign_in(client, "vendor@portal.example").status_code == 303
            yield client


def test_without_the_vendors_clever_settings_the_wizard_names_them(
    bare_vendor: httpx.Client,
) -> None:
    create(bare_vendor, "clever-unset")
    response = choose_clever(bare_vendor, "clever-unset", NOT_SHARED)
    assert response.status_code == 400
    said = problems(response.text)
    assert "the vendor's Clever app is not set up" in said
    assert "ROSTERSYNC_CLEVER_CLIENT_ID" in said and "ROSTERSYNC_CLEVER_CLIENT_SECRET" in said
