"""The admin JSON API: OpenAPI served, session-authenticated, CSRF on writes, own models."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.admin.conftest import AdminWorld, api_csrf, staff_sign_in


@pytest.fixture(autouse=True)
def vendor(browser: httpx.Client, world: AdminWorld) -> None:
    assert staff_sign_in(browser, world.vendor.email).status_code == 303


class TestOpenApi:
    """The API documents itself."""

    def test_the_openapi_document_lists_every_admin_action(self, browser: httpx.Client) -> None:
        document = browser.get("/api/openapi.json").json()
        paths = set(document["paths"])
        assert {
            "/v1/districts",
            "/v1/districts/{slug}",
            "/v1/districts/{slug}/runs",
            "/v1/runs/{run_id}",
            "/v1/districts/{slug}/preview",
            "/v1/runs/{run_id}/approve",
            "/v1/runs/{run_id}/discard",
            "/v1/districts/{slug}/revalidate",
            "/v1/districts/{slug}/issues",
        } <= paths
        schemas = document["components"]["schemas"]
        # Separate response models: no password, secret or ciphertext column is in any of them.
        names = {p for schema in schemas.values() for p in schema.get("properties", {})}
        assert not {n for n in names if "secret" in n or "password" in n or "cipher" in n}

    def test_swagger_ui_is_served(self, browser: httpx.Client) -> None:
        response = browser.get("/api/docs")
        assert response.status_code == 200 and "/api/openapi.json" in response.text


class TestApiWorkflow:
    """Writes need the CSRF header; preview, approve and discard work as on the pages."""

    def test_a_write_without_the_csrf_header_is_refused(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        before = len(world.service.runs.recent("shelbyville", limit=100))
        assert browser.post("/api/v1/districts/shelbyville/preview").status_code == 403
        assert len(world.service.runs.recent("shelbyville", limit=100)) == before

    def test_preview_then_approve(self, browser: httpx.Client, world: AdminWorld) -> None:
        headers = {"X-CSRF-Token": api_csrf(browser)}
        previewed = browser.post("/api/v1/districts/shelbyville/preview", headers=headers)
        assert previewed.status_code == 201, previewed.text
        run = previewed.json()
        assert run["status"] == "previewed" and run["pending_decision"]
        approved = browser.post(f"/api/v1/runs/{run['id']}/approve", headers=headers)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "succeeded"
        assert browser.get(f"/api/v1/runs/{run['id']}").json()["pending_decision"] is False

    def test_preview_then_discard(self, browser: httpx.Client) -> None:
        headers = {"X-CSRF-Token": api_csrf(browser)}
        run = browser.post("/api/v1/districts/shelbyville/preview", headers=headers).json()
        discarded = browser.post(f"/api/v1/runs/{run['id']}/discard", headers=headers)
        assert discarded.json()["status"] == "discarded"
        again = browser.post(f"/api/v1/runs/{run['id']}/discard", headers=headers)
        assert again.status_code == 409

    def test_open_issues_match_the_service(self, browser: httpx.Client, world: AdminWorld) -> None:
        issues = browser.get("/api/v1/districts/springfield/issues").json()
        assert len(issues) == len(world.service.runs.open_issues("springfield")) > 0
        assert set(issues[0]) == {
            "entity", "sourced_id", "subject", "field", "code", "severity", "message", "fix",
            "first_seen",
        }  # fmt: skip
