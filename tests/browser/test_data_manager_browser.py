"""A data manager in a real browser sees only their own district: Playwright driving chromium.

They get in by accepting an emailed invitation, or by signing in through ClassLink as their
district's educator; either way, every page of the other district answers with the refusal page.
Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district

VENDOR = "vendor@portal.example"
PASSWORD = "correct horse battery staple"
SPRINGFIELD = "Springfield USD – Springfield, IL"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("dm-browser")
    settings = sandboxes.portal_settings(tmp)
    districts = [
        sandboxes.springfield(30),
        SandboxDistrict(
            slug="shelbyville",
            tenant_id="1002",
            display_name="Shelbyville SD – Shelbyville, IL",
            data=generate_district(students=20, seed=4, bad_records=True, tenant="shelbyville"),
        ),
    ]
    with Sandbox(settings, districts) as sandbox:
        sandboxes.add_staff(
            sandbox, VENDOR, "vendor_staff", password=PASSWORD, display_name="Vera Vendor"
        )
        yield sandbox


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def invitation_link(world: Sandbox, to: str) -> str:
    assert world.service is not None
    for path in world.service.settings.resolved_outbox_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == to:
            text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            found = re.search(
                r"(http://\S+/staff/invitation/\S+)", text.get_payload(decode=True).decode()
            )
            assert found
            return found.group(1)
    raise AssertionError(f"no invitation email to {to}")


def shelbyville_paths(world: Sandbox) -> list[str]:
    """Every admin page of the district the data manager must not reach, a run id included."""
    assert world.service is not None
    run_id = world.service.runs.recent("shelbyville", limit=1)[0].id
    return [
        "/admin/districts/shelbyville",
        "/admin/districts/shelbyville/issues",
        "/admin/districts/shelbyville/audit",
        "/admin/districts/shelbyville/invite",
        f"/admin/runs/{run_id}",
    ]


def assert_only_springfield(page: Any, world: Sandbox, shot: str) -> None:
    page.goto(f"{world.url}/admin/districts")
    assert page.get_by_role("link", name="Springfield USD – Springfield, IL").is_visible()
    assert "Shelbyville" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / f"rostersync-{shot}-districts.png"), full_page=True)
    for path in shelbyville_paths(world):
        response = page.goto(f"{world.url}{path}")
        assert response is not None and response.status == 404, path
        assert page.get_by_role("heading", name="Not found").is_visible(), path
        assert "Shelbyville" not in page.content(), path
    page.screenshot(path=str(SCREENSHOTS / f"rostersync-{shot}-refused.png"), full_page=True)
    # Their own district's pages do open.
    page.goto(f"{world.url}/admin/districts/springfield/issues")
    assert page.get_by_role("heading", name=re.compile("Open issues")).is_visible()


def classlink_data_manager_signs_in(page: Any, world: Sandbox, *, teacher: int, path: str) -> None:
    """A Springfield teacher (the `teacher`-th) who is also its data manager signs in through
    ClassLink from `path`; the caller waits for where they land."""
    assert world.service is not None
    person = [p for p in world.sso.people("1001") if p.sourced_id.startswith("tch-")][teacher]
    world.service.staff.add_staff(
        email=person.email, display_name=person.display_name, role="data_manager",
        password=PASSWORD, district="springfield",
    )  # fmt: skip
    page.goto(f"{world.url}{path}")
    page.get_by_label("Find your district").fill("spring")
    page.get_by_role("button", name="Continue with ClassLink").click()
    page.get_by_role("button", name=f"{person.display_name} — Teacher").click()


class TestDataManagerInBrowser:
    """A data manager of Springfield sees Springfield and gets the refusal page for Shelbyville."""

    def test_an_invited_data_manager_sees_only_their_district(
        self, chromium: Any, world: Sandbox
    ) -> None:
        vendor = chromium.new_context().new_page()
        vendor.set_default_timeout(10_000)
        vendor.goto(f"{world.url}/staff/login")
        vendor.get_by_label("Email").fill(VENDOR)
        vendor.get_by_label("Password").fill(PASSWORD)
        vendor.get_by_role("button", name="Sign in").click()
        vendor.wait_for_url(f"{world.url}/admin/districts")
        vendor.goto(f"{world.url}/admin/districts/springfield/invite")
        vendor.get_by_label("Their work email").fill("dana@springfield.example")
        vendor.get_by_role("button", name="Send invitation").click()
        vendor.wait_for_url("**/invite?sent=sent")
        sent = vendor.get_by_text("Invitation sent.")
        sent.wait_for(state="visible")
        assert sent.is_visible()
        vendor.context.close()

        dm = chromium.new_context().new_page()
        dm.set_default_timeout(10_000)
        dm.goto(invitation_link(world, "dana@springfield.example"))
        assert dm.get_by_text("Springfield USD – Springfield, IL").first.is_visible()
        dm.get_by_label("Your name").fill("Dana Manager")
        dm.get_by_label("New password").fill(PASSWORD)
        dm.get_by_label("The same password again").fill(PASSWORD)
        dm.screenshot(path=str(SCREENSHOTS / "rostersync-invitation.png"), full_page=True)
        dm.get_by_role("button", name="Save and sign in").click()
        # Signed in, they land on their district's page, not on a list of one district.
        dm.wait_for_url(f"{world.url}/admin/districts/springfield")
        assert dm.get_by_role("heading", name=SPRINGFIELD, level=1).is_visible()
        assert "Data manager" in dm.locator("header .who").inner_text()
        assert_only_springfield(dm, world, "invited-dm")
        dm.context.close()

    def test_a_data_manager_signing_in_through_classlink_sees_only_their_district(
        self, page: Any, world: Sandbox
    ) -> None:
        classlink_data_manager_signs_in(page, world, teacher=0, path="/login")
        page.wait_for_url(f"{world.url}/")
        assert_only_springfield(page, world, "classlink-dm")

    def test_a_data_manager_sent_through_classlink_from_the_admin_pages_lands_on_theirs(
        self, page: Any, world: Sandbox
    ) -> None:
        """Headed for /admin, a ClassLink sign-in ends on the data manager's district page."""
        classlink_data_manager_signs_in(page, world, teacher=1, path="/login?next=/admin")
        page.wait_for_url(f"{world.url}/admin/districts/springfield")
        assert page.get_by_role("heading", name=SPRINGFIELD, level=1).is_visible()
        assert page.locator("#last-success").is_visible()
