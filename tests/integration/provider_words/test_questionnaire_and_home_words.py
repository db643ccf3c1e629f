"""The questionnaire and an educator's home page name the district's own source over real HTTP.

One sandbox: Springfield reads its roster from ClassLink, Ogdenville from Clever (served by the
sandbox's Clever simulator); both take eligibility from the roster. The questionnaire calls the
tenant ID ClassLink's only, and the eligibility field the district's source's; a new district,
whose source is not chosen yet, is told the tenant ID is for ClassLink districts only. A teacher
of each district is told their district sends eligibility from its source.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, staff_sign_in

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district

VENDOR = "vendor@portal.example"
CLEVER_NOTE = "Your district sends eligibility from Clever;"
CLASSLINK_NOTE = "Your district sends eligibility from ClassLink;"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("provider-words")
    districts = [
        sandboxes.springfield(20, eligibility_source="metadata"),
        SandboxDistrict(
            slug="ogdenville",
            provider="clever",
            display_name="Ogdenville SD – Ogdenville, IL",
            data=generate_district(students=20, seed=5, tenant="ogdenville"),
            eligibility_source="metadata",
        ),
    ]
    with Sandbox(sandboxes.portal_settings(tmp), districts) as sandbox:
        sandboxes.add_staff(sandbox, VENDOR, "vendor_staff", password=PASSWORD)
        yield sandbox


@pytest.fixture(scope="module")
def vendor(world: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=10) as browser:
        assert staff_sign_in(browser, VENDOR).status_code == 303
        yield browser


def label_of(page: str, field: str) -> str:
    found = re.search(rf'<label for="{field}">([^<]*)</label>', page)
    assert found, page
    return html.unescape(found.group(1))


def hint_of(page: str, field: str) -> str:
    found = re.search(rf'<p class="hint" id="{field}-hint">([^<]*)</p>', page)
    assert found, page
    return html.unescape(found.group(1))


def questionnaire(vendor: httpx.Client, path: str) -> str:
    response = vendor.get(path)
    assert response.status_code == 200, response.text
    return response.text


class TestTheQuestionnaire:
    def test_a_clever_district_is_asked_for_its_clever_field_and_no_tenant_id(
        self, vendor: httpx.Client
    ) -> None:
        page = questionnaire(vendor, "/admin/onboarding/ogdenville/answers")
        assert label_of(page, "tenant_id") == "ClassLink tenant ID (ClassLink districts only)"
        assert "sign in through Clever" in hint_of(page, "tenant_id")
        assert label_of(page, "eligibility_field") == "Clever metadata field for eligibility"
        assert "comes from Clever" in hint_of(page, "eligibility_field")
        assert "A Clever metadata field" in page
        assert "ClassLink metadata" not in page

    def test_a_classlink_district_is_asked_in_classlink_words(self, vendor: httpx.Client) -> None:
        page = questionnaire(vendor, "/admin/onboarding/springfield/answers")
        assert label_of(page, "tenant_id") == "ClassLink tenant ID"
        assert hint_of(page, "tenant_id") == (
            "From ClassLink; students can sign in only once it is set."
        )
        assert label_of(page, "eligibility_field") == "ClassLink metadata field for eligibility"
        assert "A ClassLink metadata field" in page
        assert "Clever" not in page

    def test_a_new_district_is_told_the_tenant_id_is_classlinks_only(
        self, vendor: httpx.Client
    ) -> None:
        page = questionnaire(vendor, "/admin/onboarding")
        assert label_of(page, "tenant_id") == "ClassLink tenant ID (ClassLink districts only)"
        assert "A Clever district leaves it empty" in hint_of(page, "tenant_id")
        assert label_of(page, "eligibility_field") == "Roster metadata field for eligibility"


def landing_home(world: Sandbox, browser: httpx.Client, callback: str) -> str:
    """Deliver the sign-in's redirect to the portal; the home page it leads to."""
    parts = urlsplit(callback)
    answer = browser.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 303, answer.text
    home = browser.get(answer.headers["location"])
    assert home.status_code == 200, home.text
    return html.unescape(home.text)


def started(browser: httpx.Client, world: Sandbox, slug: str) -> str:
    response = browser.get("/login/start", params={"district": world.district_ids[slug]})
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


class TestTheEducatorHomePage:
    def test_a_clever_districts_teacher_is_told_eligibility_comes_from_clever(
        self, world: Sandbox
    ) -> None:
        teacher = world.clever_people("ogdenville", "teacher")[0]
        with httpx.Client(base_url=world.url, timeout=10) as browser:
            at_clever = started(browser, world, "ogdenville")
            answer = browser.get(f"{at_clever}&login_as={teacher.user_id}")
            assert answer.status_code == 302, answer.text
            home = landing_home(world, browser, answer.headers["location"])
        assert f"Hello, {teacher.display_name}" in home
        assert CLEVER_NOTE in home
        assert "ClassLink" not in home

    def test_a_classlink_districts_teacher_is_told_eligibility_comes_from_classlink(
        self, world: Sandbox
    ) -> None:
        teacher = next(p for p in world.sso.people("1001") if p.sourced_id.startswith("tch-"))
        with httpx.Client(base_url=world.url, timeout=10) as browser:
            at_classlink = started(browser, world, "springfield")
            query = {k: v[0] for k, v in parse_qs(urlsplit(at_classlink).query).items()}
            answer = browser.post(
                at_classlink.split("?")[0], data={**query, "person": f"1001:{teacher.sourced_id}"}
            )
            assert answer.status_code == 302, answer.text
            home = landing_home(world, browser, answer.headers["location"])
        assert f"Hello, {teacher.given_name} {teacher.family_name}" in home
        assert CLASSLINK_NOTE in home
        assert "Clever" not in home
