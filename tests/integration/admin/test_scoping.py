"""A data manager sees only their own district, on every page and API call; vendor staff see all."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.admin.conftest import AdminWorld, api_csrf, form_csrf, staff_sign_in


@pytest.fixture
def shelbyville_run(world: AdminWorld) -> str:
    """A run of Shelbyville's (the district a Springfield data manager must not reach)."""
    runs = world.service.runs.recent("shelbyville", limit=1)
    run_id: str = runs[0].id
    return run_id


CROSSING_PAGES = [
    "/admin/districts/shelbyville",
    "/admin/districts/shelbyville/issues",
    "/admin/districts/shelbyville/issues.csv",
    "/admin/districts/shelbyville/audit",
]
CROSSING_API = [
    "/api/v1/districts/shelbyville",
    "/api/v1/districts/shelbyville/runs",
    "/api/v1/districts/shelbyville/issues",
]


class TestDataManagerScope:
    """Another district's pages, runs, issues, CSV and API answer exactly like a missing one."""

    @pytest.fixture(autouse=True)
    def signed_in(self, browser: httpx.Client, world: AdminWorld) -> None:
        assert staff_sign_in(browser, world.dm_springfield.email).status_code == 303

    def test_the_district_list_holds_only_their_district(self, browser: httpx.Client) -> None:
        page = browser.get("/admin/districts").text
        assert "Springfield USD" in page and "Shelbyville" not in page
        listed = browser.get("/api/v1/districts").json()
        assert [d["slug"] for d in listed] == ["springfield"]

    @pytest.mark.parametrize("path", CROSSING_PAGES)
    def test_another_districts_page_is_not_found(self, browser: httpx.Client, path: str) -> None:
        crossing = browser.get(path)
        missing = browser.get(path.replace("shelbyville", "no-such-district"))
        assert crossing.status_code == missing.status_code == 404
        assert "Shelbyville" not in crossing.text

    def test_their_own_pages_open(self, browser: httpx.Client) -> None:
        for path in CROSSING_PAGES:
            assert browser.get(path.replace("shelbyville", "springfield")).status_code == 200

    @pytest.mark.parametrize("path", CROSSING_API)
    def test_another_districts_api_is_not_found(self, browser: httpx.Client, path: str) -> None:
        assert browser.get(path).status_code == 404

    def test_another_districts_run_is_not_found(
        self, browser: httpx.Client, shelbyville_run: str
    ) -> None:
        assert browser.get(f"/admin/runs/{shelbyville_run}").status_code == 404
        assert browser.get(f"/api/v1/runs/{shelbyville_run}").status_code == 404

    def test_actions_on_another_district_change_nothing(
        self, browser: httpx.Client, world: AdminWorld, shelbyville_run: str
    ) -> None:
        before = [r.id for r in world.service.runs.recent("shelbyville", limit=100)]
        csrf = form_csrf(browser.get("/admin/districts/springfield").text)
        token = api_csrf(browser)
        headers = {"X-CSRF-Token": token}
        assert (
            browser.post("/admin/districts/shelbyville/preview", data={"csrf": csrf}).status_code
            == 404
        )
        assert (
            browser.post("/admin/districts/shelbyville/revalidate", data={"csrf": csrf}).status_code
            == 404
        )
        assert (
            browser.post(f"/admin/runs/{shelbyville_run}/discard", data={"csrf": csrf}).status_code
            == 404
        )
        assert (
            browser.post("/api/v1/districts/shelbyville/preview", headers=headers).status_code
            == 404
        )
        assert (
            browser.post(f"/api/v1/runs/{shelbyville_run}/approve", headers=headers).status_code
            == 404
        )
        assert [r.id for r in world.service.runs.recent("shelbyville", limit=100)] == before


class TestVendorStaffScope:
    """Vendor staff open every district."""

    def test_every_district_opens(self, browser: httpx.Client, world: AdminWorld) -> None:
        staff_sign_in(browser, world.vendor.email)
        for slug in ("springfield", "shelbyville"):
            assert browser.get(f"/admin/districts/{slug}").status_code == 200
            assert browser.get(f"/api/v1/districts/{slug}").status_code == 200
