"""A staff member in a real browser who chooses too big a file sees why, with the limit.

The portal refuses an import over `max_import_bytes` while it streams (413, before reading the
rest); this checks that a browser shows that refusal page rather than a broken connection.
Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox

VENDOR = "vendor@portal.example"
PASSWORD = "correct horse battery staple"
LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("import-limit-browser")
    settings = sandboxes.portal_settings(tmp, max_import_bytes=LIMIT)
    district = sandboxes.springfield(5)
    with Sandbox(settings, [district]) as sandbox:
        sandboxes.add_staff(
            sandbox, VENDOR, "vendor_staff", password=PASSWORD, display_name="Vera Vendor"
        )
        yield sandbox


@pytest.mark.parametrize("size", [LIMIT * 4, LIMIT * 16])
def test_too_big_a_file_shows_the_limit_and_the_fix(
    chromium: Any, world: Sandbox, size: int
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{world.url}/staff/login")
        page.get_by_label("Email").fill(VENDOR)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/admin/districts")
        page.goto(f"{world.url}/admin/districts/springfield/import")
        assert "Up to 5,000 staff and 256 KB per file." in page.content()
        page.set_input_files(
            "#file", files=[{"name": "staff.csv", "mimeType": "text/csv", "buffer": b"x" * size}]
        )
        with page.expect_response("**/admin/districts/springfield/import") as answered:
            page.get_by_role("button", name="Import").click()
        assert answered.value.status == 413
        alert = page.locator("#import-result [role=alert]")
        alert.wait_for()
        assert "over the 256 KB limit for one import" in alert.inner_text()
        page.screenshot(
            path=str(SCREENSHOTS / f"rostersync-import-too-big-{size}.png"), full_page=True
        )
    finally:
        context.close()
