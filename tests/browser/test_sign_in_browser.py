"""Signing in with a real browser: Playwright driving Debian's chromium against the sandbox.

Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("browser")
    settings = sandboxes.portal_settings(tmp)
    districts = [
        sandboxes.springfield(60),
        SandboxDistrict(
            slug="shelbyville",
            tenant_id="1002",
            display_name="Shelbyville SD – Shelbyville, IL",
            data=generate_district(students=20, seed=4, tenant="shelbyville"),
        ),
    ]
    with Sandbox(settings, districts) as sandbox:
        yield sandbox


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


class TestBrowserSignIn:
    """A person signs in through the portal in a real browser and lands on their home page."""

    def test_student_signs_in_through_the_drop_down_and_sees_their_classes(
        self, page: Any, world: Sandbox
    ) -> None:
        student = next(p for p in world.sso.people("1001") if p.role == "Student")
        page.goto(f"{world.url}/login")
        page.get_by_label("Find your district").fill("spring")
        district = page.get_by_label("Your school or district")
        assert district.locator("option").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "rostersync-login.png"), full_page=True)
        page.get_by_role("button", name="Continue with ClassLink").click()
        page.get_by_role("button", name=f"{student.display_name} — Student").click()
        page.wait_for_url(f"{world.url}/")
        assert page.get_by_role("heading", name=f"Hello, {student.display_name}").is_visible()
        assert page.get_by_role("heading", name="Your classes").is_visible()
        assert page.locator("ul.classes li").count() >= 2
        page.screenshot(path=str(SCREENSHOTS / "rostersync-student-home.png"), full_page=True)

    def test_a_launchpad_launch_signs_an_educator_in(self, page: Any, world: Sandbox) -> None:
        teacher = next(p for p in world.sso.people("1001") if p.sourced_id.startswith("tch-"))
        page.goto(world.sso.launch_url("educator-portal", "1001", teacher.sourced_id))
        page.wait_for_url(f"{world.url}/")
        assert page.get_by_role("heading", name=f"Hello, {teacher.display_name}").is_visible()
        assert page.get_by_role("columnheader", name="Eligibility").first.is_visible()
