"""A held sync reviewed in a real browser: vendor staff open the held run, read who it would
deactivate by name, page and search the list, then Approve, confirm the counts, and land on the
run that applied it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator.mutations import vanish

EMAIL, PASSWORD = "vendor@portal.example", "correct horse battery staple"
LEAVERS = 60


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, str, list[Any]]]:
    """Springfield synced, then served without LEAVERS students: the held run and the leavers."""
    settings = sandboxes.portal_settings(tmp_path_factory.mktemp("held-review-browser"))
    district = sandboxes.springfield(150)
    leavers = [u for u in district.data.users if u["role"] == "student"][:LEAVERS]
    with Sandbox(settings, [district]) as sandbox:
        sandboxes.add_staff(
            sandbox, EMAIL, "vendor_staff", password=PASSWORD, display_name="Pat Staff"
        )
        assert sandbox.service is not None
        tenant = sandbox.roster.tenant("springfield")
        tenant.data = vanish(district.data, "users", [u["sourcedId"] for u in leavers]).data
        report = sandbox.service.runs.sync("springfield")
        assert report.status == "held", report
        yield sandbox, report.run_id, leavers


def test_vendor_staff_review_a_held_runs_students_and_approve_it(
    chromium: Any, held: tuple[Sandbox, str, list[Any]]
) -> None:
    sandbox, run_id, leavers = held
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{sandbox.url}/staff/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{sandbox.url}/admin/districts")

        page.goto(f"{sandbox.url}/admin/districts/springfield")
        page.locator(f'a[href="/admin/runs/{run_id}"]').first.click()
        page.wait_for_url(f"**/admin/runs/{run_id}")
        assert page.locator("#run-status").inner_text() == "held"
        assert "would be deactivated" in page.locator("#run-held-reason").inner_text()
        showing = page.locator("#changes-showing").inner_text()
        assert re.match(r"Showing 1–50 of [\d,]+", showing), showing
        table = page.locator("#changes-table")
        assert table.locator("tbody tr").count() == 50
        first = sorted(leavers, key=lambda u: u["sourcedId"])[0]
        row = table.locator("tbody tr").first
        assert row.locator("th").inner_text() == f"{first['givenName']} {first['familyName']}"
        assert row.locator("code").inner_text() == first["sourcedId"]
        page.screenshot(path=str(SCREENSHOTS / "held-review.png"), full_page=True)

        page.get_by_role("link", name="Next 50").click()
        page.wait_for_url("**cursor=**")
        assert page.locator("#changes-showing").inner_text().startswith("Showing 51–")

        someone = leavers[7]
        page.get_by_label("Name, student ID or ClassLink id").fill(someone["familyName"])
        page.get_by_label("Change", exact=True).select_option("deactivate")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**q=**")
        names = page.locator("#changes-table tbody th").all_inner_texts()
        assert f"{someone['givenName']} {someone['familyName']}" in names
        assert all(someone["familyName"] in n for n in names), names

        page.get_by_role("button", name="Approve").click()
        page.wait_for_url(f"**/admin/runs/{run_id}/approve*")
        counts = page.locator("#confirm-counts").inner_text()
        assert f"deactivate {LEAVERS} students" in counts, counts
        confirm = page.get_by_role("button", name=re.compile(r"^Approve: deactivate"))
        assert f"{LEAVERS} students" in confirm.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "held-review-confirm.png"), full_page=False)
        confirm.click()
        page.wait_for_url("**/admin/runs/*?done=approved")
        assert page.locator("#run-status").inner_text() == "succeeded"
        assert sandbox.service is not None
        assert sandbox.service.runs.get(run_id).status == "approved"
    finally:
        context.close()
