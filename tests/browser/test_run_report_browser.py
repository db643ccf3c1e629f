"""A run's page in a real browser: vendor staff preview Springfield (planted bad records), approve
it, and read the applied run as a report: a badge whose colour and glyph are its own with the
glyph hidden from screen readers, the counts matrix, and a link to the district's open issues."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox

EMAIL, PASSWORD = "vendor@portal.example", "correct horse battery staple"
OUTCOMES = ("Created", "Updated", "Matched", "Restored", "Deactivated", "Held", "Unchanged")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    settings = sandboxes.portal_settings(tmp_path_factory.mktemp("run-report-browser"))
    with Sandbox(settings, [sandboxes.springfield(40, bad_records=True)]) as sandbox:
        sandboxes.add_staff(
            sandbox, EMAIL, "vendor_staff", password=PASSWORD, display_name="Pat Staff"
        )
        yield sandbox


@pytest.fixture
def page(chromium: Any, world: Sandbox) -> Iterator[Any]:
    """A browser tab signed in as vendor staff."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{world.url}/staff/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{world.url}/admin/districts")
    yield page
    context.close()


def background(locator: Any) -> str:
    colour: str = locator.evaluate("e => getComputedStyle(e).backgroundColor")
    return colour


class TestTheRunReport:
    def test_an_approved_preview_reads_as_a_report_with_its_own_badges(
        self, page: Any, world: Sandbox
    ) -> None:
        page.goto(f"{world.url}/admin/districts/springfield")
        page.get_by_role("button", name="Preview sync").click()
        page.wait_for_url("**/admin/runs/*?done=previewed")
        previewed = page.locator(".badge.status").first
        assert previewed.inner_text().endswith("previewed")
        previewed_colour = background(previewed)
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url("**/admin/runs/*?done=approved")

        badge = page.locator(".badge.status-succeeded-with-issues")
        assert badge.count() == 1
        assert page.locator("#run-status").inner_text() == "succeeded"
        assert badge.inner_text().endswith("succeeded with issues")
        assert badge.locator('.badge-icon[aria-hidden="true"]').count() == 1
        assert background(badge) != previewed_colour
        assert "finished with issues" in page.locator("#run-outcome").inner_text()

        counts = page.locator("#run-counts")
        for outcome in OUTCOMES:
            assert counts.get_by_role("columnheader", name=outcome, exact=True).is_visible()
        assert counts.get_by_role("rowheader", name="Students", exact=True).is_visible()
        assert counts.get_by_role("rowheader", name="All records", exact=True).is_visible()
        page.screenshot(path=str(SCREENSHOTS / "rostersync-run-report.png"), full_page=True)

        page.get_by_role("link", name="See the district's open issues and how to fix them").click()
        page.wait_for_url("**/admin/districts/springfield/issues")
        assert page.get_by_role("heading", name="Open issues").first.is_visible()

        page.goto(f"{world.url}/admin/districts/springfield")
        runs = page.get_by_role("table").filter(has_text="Trigger")
        glyphs = runs.locator(".badge.status .badge-icon").all_inner_texts()
        assert len(set(glyphs)) == 2, glyphs  # the approved preview and the run that applied it
