"""Runs and the staff import in a real browser: Playwright driving Debian's chromium.

Staff start a preview of a deliberately slow ClassLink, watch the run page's live region count
the records as they arrive, and land on the counts with Approve; then they upload a staff CSV
and read its row-by-row report. Without /usr/bin/chromium these tests skip with the reason;
under CI=true they fail instead.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator.faults import slow
from rostersync.store.accounts import schools

EMAIL, PASSWORD = "vendor@portal.example", "correct horse battery staple"
# Every ClassLink answer is held back this long; with pages of ten the pull takes dozens of
# requests, so it outlasts the page's short wait and the run page has something to follow.
DELAY = 0.3
# Waiting for a run to end gives up (and fails) after this long (seconds).
PATIENCE = 240.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("runs-browser")
    # Small pages, fetched one at a time: the pull lasts long enough to be watched.
    settings = sandboxes.portal_settings(tmp, page_size=10, roster_page_concurrency=1)
    districts = [
        sandboxes.springfield(40),
    ]
    with Sandbox(settings, districts) as sandbox:
        sandboxes.add_staff(
            sandbox, EMAIL, "vendor_staff", password=PASSWORD, display_name="Pat Staff"
        )
        yield sandbox
        sandbox.roster.set_faults("springfield")


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


class TestWatchingARun:
    """A preview started from the district page is followed live until its counts appear."""

    def test_staff_watch_a_preview_pull_and_end_on_its_counts_with_approve(
        self, page: Any, world: Sandbox
    ) -> None:
        world.roster.set_faults("springfield", slow(DELAY, times=100_000))
        page.goto(f"{world.url}/admin/districts/springfield")
        page.get_by_role("button", name="Preview sync").click()
        page.wait_for_url("**/admin/runs/*?done=started")
        region = page.locator("#run-progress")
        assert region.get_attribute("aria-live") == "polite"
        approve = page.get_by_role("button", name="Approve")

        seen: list[str] = []
        deadline = time.monotonic() + PATIENCE
        while approve.count() == 0:
            assert time.monotonic() < deadline, f"the run page never ended; it said {seen}"
            text = region.text_content() or ""
            if text.startswith("Pulling") and text not in seen:
                seen.append(text)
                if len(seen) == 2:
                    page.screenshot(path=str(SCREENSHOTS / "rostersync-run-progress.png"))
            page.wait_for_timeout(150)
        assert len(seen) >= 2, seen  # the live region changed while the records came in
        world.roster.set_faults("springfield")

        assert page.locator("#run-status").text_content() == "previewed"
        assert approve.is_visible()
        assert page.get_by_role("button", name="Discard").is_visible()
        assert page.get_by_role("heading", name="Counts").is_visible()
        assert page.get_by_role("rowheader", name="records_pulled").first.is_visible()
        assert page.get_by_role("link", name="Refresh").count() == 0
        page.screenshot(path=str(SCREENSHOTS / "rostersync-run-done.png"), full_page=True)


class TestImportingStaff:
    """A staff CSV uploaded on the import page is reported row by row."""

    def test_staff_upload_a_csv_and_read_the_row_report(
        self, page: Any, world: Sandbox, tmp_path: Path
    ) -> None:
        assert world.service is not None
        with world.service.engine.connect() as conn:
            school = sorted(s[1] for s in schools(conn, world.district_ids["springfield"]))[0]
        tag = secrets.token_hex(3)
        lines = [
            "first_name,last_name,email,role,school_identifier_or_sourced_id",
            f"Lee,Shelf-{tag},lee.{tag}@springfield.example,librarian,{school}",
            f"Max,Coach-{tag},max.{tag}@springfield.example,coach,{school}",
        ]
        upload = tmp_path / "staff.csv"
        upload.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

        page.goto(f"{world.url}/admin/districts/springfield")
        page.get_by_role("link", name="Import staff").click()
        page.wait_for_url("**/admin/districts/springfield/import")
        assert page.get_by_role("link", name="CSV template").is_visible()
        page.get_by_label("Staff file (CSV or XLSX)").set_input_files(str(upload))
        page.get_by_role("button", name="Import").click()

        status = page.get_by_role("status")
        status.filter(has_text="Imported").wait_for()
        assert status.filter(has_text="2 staff accounts created from 2 rows").is_visible()
        report = page.locator("#import-rows tbody tr")
        assert report.count() == 2
        assert report.nth(0).get_by_role("rowheader").text_content() == "2"
        assert "created" in (report.nth(0).text_content() or "")
        assert f"max.{tag}@springfield.example" in (report.nth(1).text_content() or "")
        page.screenshot(path=str(SCREENSHOTS / "rostersync-import-report.png"), full_page=True)
