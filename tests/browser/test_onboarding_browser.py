"""Onboarding a district in a real browser, then signing one of its students in.

Playwright drives Debian's chromium against the sandbox, where ClassLink (the OneRoster and SSO
simulators) already serves Capital City but the portal has never heard of it. Without
/usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district

VENDOR = "vendor@portal.example"
PASSWORD = "correct horse battery staple"
TENANT = "1004"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("onboarding-browser")
    settings = sandboxes.portal_settings(tmp)
    districts = [
        SandboxDistrict(
            slug="capital",
            tenant_id=TENANT,
            display_name="Capital City SD – Capital City, IL",
            data=generate_district(students=30, seed=6, tenant="capital"),
            onboarded=False,
        ),
    ]
    with Sandbox(settings, districts) as sandbox:
        sandboxes.add_staff(
            sandbox, VENDOR, "vendor_staff", password=PASSWORD, display_name="Val Vendor"
        )
        yield sandbox


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile: no cookies from any other test."""
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    yield context
    context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"rostersync-onboarding-{name}.png"), full_page=True)


class TestBrowserOnboarding:
    """Vendor staff onboard a district end to end in the browser; then its students sign in."""

    def test_vendor_staff_onboard_a_district_and_its_student_signs_in(
        self, chromium: Any, context: Any, world: Sandbox
    ) -> None:
        url, key, secret = world.roster_credentials["capital"]
        page = context.new_page()

        # Staff sign-in, then the wizard from the districts page.
        page.goto(f"{world.url}/staff/login")
        page.get_by_label("Email", exact=True).fill(VENDOR)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{world.url}/admin/districts")
        page.get_by_role("link", name="Onboard a district").click()

        # (a) The questionnaire: a mistake first, shown on its field, then the answers.
        page.get_by_label("Short name (slug)").fill("Capital City!")
        page.get_by_role("button", name="Create district and continue").click()
        slug_field = page.get_by_label("Short name (slug)")
        assert slug_field.get_attribute("aria-invalid") == "true"
        assert page.locator("#slug-error").is_visible()
        shot(page, "questionnaire-errors")
        slug_field.fill("capital")
        page.get_by_label("Official name", exact=True).fill("Capital City School District")
        page.get_by_label("Name on the login drop-down").fill("Capital City SD – Capital City, IL")
        page.get_by_label("City", exact=True).fill("Capital City")
        page.get_by_label("State", exact=True).fill("IL")
        page.get_by_label("ClassLink tenant ID").fill(TENANT)
        page.get_by_label("Data managers' emails").fill("data.manager@capital.example")
        grades = page.get_by_role("group", name="Does the district provide grade levels")
        grades.get_by_label("Yes").check()
        emails = page.get_by_role("group", name="Does every person have a unique email")
        emails.get_by_label("Yes").check()
        page.get_by_label("identifier (the user's identifier field)").check()
        page.get_by_label("Set later in the portal by educators").check()
        page.get_by_role("button", name="Create district and continue").click()

        # (b) ClassLink credentials and a real connection test against the simulator.
        page.wait_for_url(f"{world.url}/admin/onboarding/capital/source")
        page.get_by_label("ClassLink Roster Server, OneRoster 1.1").check()
        page.get_by_label("Source URL", exact=True).fill(url)
        page.get_by_label("Key (client id)").fill(key)
        page.get_by_label("Secret", exact=True).fill(secret)
        page.get_by_role("button", name="Test connection").click()
        result = page.locator("#connection-result")
        assert "the credentials work" in result.inner_text()
        assert secret not in page.content()
        shot(page, "connection")
        page.get_by_role("link", name="Continue to the schedule").click()

        # (c) The schedule, with the keyboard: choose weekdays and save.
        page.wait_for_url(f"{world.url}/admin/onboarding/capital/schedule")
        page.get_by_label("Weekdays (Monday to Friday)").focus()
        page.keyboard.press("Space")
        page.get_by_label("Time of day", exact=True).fill("05:30")
        page.get_by_label("Time zone", exact=True).fill("America/Chicago")
        page.get_by_role("button", name="Save and continue").focus()
        page.keyboard.press("Enter")

        # (d) Preview, then Approve on the run page.
        page.wait_for_url(f"{world.url}/admin/onboarding/capital/preview")
        page.get_by_role("button", name="Preview sync").click()
        page.wait_for_url("**/admin/runs/*?done=previewed")
        assert page.locator("#run-status").inner_text() == "previewed"
        shot(page, "preview")
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url("**/admin/runs/*?done=approved")
        assert page.locator("#run-status").inner_text() == "succeeded"

        # (e) Back to the district, resume the wizard (it lands on go-live), go live now.
        page.get_by_role("link", name="Capital City SD – Capital City, IL").click()
        page.get_by_role("link", name="Continue onboarding").click()
        page.wait_for_url(f"{world.url}/admin/onboarding/capital/go-live")
        page.get_by_role("button", name="Go live now").click()
        page.wait_for_url("**/go-live?done=live")
        assert page.locator("#district-status").inner_text() == "live"
        shot(page, "live")

        # A student of the district, in a browser of their own, signs in through ClassLink.
        student = next(p for p in world.sso.people(TENANT) if p.role == "Student")
        other = chromium.new_context()
        try:
            portal = other.new_page()
            portal.set_default_timeout(15_000)
            portal.goto(f"{world.url}/login")
            portal.get_by_label("Find your district").fill("capital")
            district = portal.get_by_label("Your school or district")
            assert district.locator("option").count() == 1
            portal.get_by_role("button", name="Continue with ClassLink").click()
            portal.get_by_role("button", name=f"{student.display_name} — Student").click()
            portal.wait_for_url(f"{world.url}/")
            assert portal.get_by_role("heading", name=f"Hello, {student.display_name}").is_visible()
            assert portal.get_by_role("heading", name="Your classes").is_visible()
            assert portal.locator("ul.classes li").count() >= 1
            shot(portal, "student-home")
        finally:
            other.close()
