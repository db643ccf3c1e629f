"""A newcomer in a real browser, in the portal `rostersync demo --serve` leaves running: signs in
with the printed data manager's email and demo-only password, finds the planted bad records among
the open issues and the held sync with its Approve and Discard.

Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS

from rostersync.demo.showcase import Showcase, demo_settings, start_showcase


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Showcase]:
    settings = demo_settings(tmp_path_factory.mktemp("demo-browser"), log_format="json")
    with start_showcase(settings, students=300, seed=7) as started:
        yield started


def printed(showcase: Showcase, pattern: str) -> str:
    for line in showcase.welcome():
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    raise AssertionError(f"{pattern!r} not printed")


def test_a_newcomer_signs_in_as_the_printed_data_manager_and_finds_issues_and_a_hold(
    chromium: Any, showcase: Showcase
) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(printed(showcase, r"Admin pages: (\S+)"))
        page.get_by_label("Email", exact=True).fill(printed(showcase, r"^\s+email:\s+(\S+)"))
        page.get_by_label("Password", exact=True).fill(printed(showcase, r"^\s+password:\s+(\S+)"))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/admin/districts**")

        page.goto(f"{showcase.url}/admin/districts/springfield")
        page.get_by_role("link", name="Open issues").first.click()
        page.wait_for_url("**/admin/districts/springfield/issues**")
        text = page.content()
        for problem in showcase.sandbox.districts[0].data.planted:
            assert problem.sourced_id in text, problem
        page.screenshot(path=str(SCREENSHOTS / "demo-issues.png"), full_page=False)

        page.goto(f"{showcase.url}/admin/districts/springfield")
        page.locator(f'a[href="/admin/runs/{showcase.held_run_id}"]').click()
        page.wait_for_url(f"**/admin/runs/{showcase.held_run_id}")
        assert page.locator("#run-status").inner_text() == "held"
        assert page.get_by_role("button", name="Approve").is_visible()
        assert page.get_by_role("button", name="Discard").is_visible()
        page.screenshot(path=str(SCREENSHOTS / "demo-held.png"), full_page=False)
    finally:
        context.close()
