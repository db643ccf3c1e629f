"""`/api/docs` in a real browser: Swagger UI renders from this portal alone, under its policy.

Chromium opens the page with every request to another origin blocked, and the page's console
watched for Content-Security-Policy violations. Swagger UI must render the API's operations, the
district push endpoint among them, with nothing fetched from anywhere but the portal.
Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("docs-browser")
    settings = sandboxes.portal_settings(tmp)
    district = sandboxes.springfield(5)
    with Sandbox(settings, [district]) as sandbox:
        yield sandbox


def test_swagger_ui_renders_offline_under_its_policy(chromium: Any, world: Sandbox) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    portal = urlsplit(world.url).netloc
    elsewhere: list[str] = []
    violations: list[str] = []

    def route(request_route: Any) -> None:
        if urlsplit(request_route.request.url).netloc == portal:
            request_route.continue_()
        else:  # offline: nothing but the portal answers
            elsewhere.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        page.goto(f"{world.url}/api/docs")
        # Swagger UI rendered the document: the title, and the push endpoint's operation.
        page.locator(".swagger-ui .info .title").wait_for()
        assert "Educator Portal admin API" in page.locator(".swagger-ui .info .title").inner_text()
        push = page.locator(".opblock-summary-path", has_text="/v1/districts/{slug}/bundles")
        push.first.wait_for()
        assert page.locator(".opblock").count() >= 15
        page.screenshot(path=str(SCREENSHOTS / "rostersync-api-docs.png"), full_page=True)
    finally:
        context.close()
    assert elsewhere == []
    assert violations == []
