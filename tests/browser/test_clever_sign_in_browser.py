"""Signing in through Clever with a real browser: Playwright driving Debian's chromium.

The world (tests/integration/clever_signin/world.py) has a ClassLink district and Clever ones;
the Clever simulator signs in the person set with `sign_in_as`, as Clever does for someone who
is signed in there already. Without /usr/bin/chromium these tests skip with the reason; under
CI=true they fail instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration.clever_signin.world import CleverWorld, start_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleverWorld]:
    running = start_world(tmp_path_factory.mktemp("clever-browser"))
    yield running
    running.stop()


@pytest.fixture
def page(chromium: Any, world: CleverWorld) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    world.clever.sign_in_as(None)


class TestBrowserCleverSignIn:
    def test_a_student_signs_in_through_clever_from_the_drop_down(
        self, page: Any, world: CleverWorld
    ) -> None:
        user_id, record = world.student("capital", 1)
        world.clever.sign_in_as(user_id)
        page.goto(f"{world.url}/login")
        page.get_by_label("Find your district").fill("capital")
        district = page.get_by_label("Your school or district")
        assert district.locator("option").count() == 1
        page.get_by_role("button", name="Continue with ClassLink or Clever").click()
        page.wait_for_url(f"{world.url}/")
        greeting = page.get_by_role("heading", name=re.compile(f"^Hello, {record['givenName']}"))
        assert greeting.is_visible()
        assert page.get_by_role("heading", name="Your classes").is_visible()
        assert page.locator("ul.classes li").count() >= 1
        page.screenshot(path=str(SCREENSHOTS / "rostersync-clever-home.png"), full_page=True)

    def test_a_clever_portal_launch_signs_a_student_in(self, page: Any, world: CleverWorld) -> None:
        user_id, record = world.student("ogdenville", 2)
        world.clever.sign_in_as(user_id)
        page.goto(world.clever.portal_launch_url(user_id))
        page.wait_for_url(f"{world.url}/")
        greeting = page.get_by_role("heading", name=re.compile(f"^Hello, {record['givenName']}"))
        assert greeting.is_visible()

    def test_a_person_choosing_another_district_sees_the_refusal_with_a_reference(
        self, page: Any, world: CleverWorld
    ) -> None:
        user_id, _ = world.student("capital", 3)
        world.clever.sign_in_as(user_id)
        # Ogdenville chosen (its login bound to this browser's cookie); Clever's district_id
        # only preselects, and the person signed in at Clever is Capital City's: refused.
        start = page.request.get(
            f"{world.url}/login/start",
            params={"district": world.district_ids["ogdenville"]},
            max_redirects=0,
        )
        assert start.status == 303
        page.goto(re.sub(r"&district_id=[0-9a-f]+", "", start.headers["location"]))
        heading = page.get_by_role(
            "heading", name="That Clever account belongs to another district"
        )
        assert heading.is_visible()
        assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", page.locator("code.reference").inner_text())
        assert all(c["name"] != "rostersync_session" for c in page.context.cookies(world.url))
