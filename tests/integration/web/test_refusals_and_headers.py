"""Requests that fail validation, the security headers, and the API's docs and document.

Over loopback HTTP against the portal of the web tests' sandbox (tests/integration/web/conftest.py):
- a link or form whose value is too long gets a refusal page, never FastAPI's 422 JSON that
  echoes the value; the JSON API keeps JSON errors, also without the value;
- every response says `X-Frame-Options: DENY`, and `Strict-Transport-Security` when the
  portal's cookies are Secure;
- `/api/docs` is Swagger UI served from this portal (no CDN) under a policy with no inline
  script and no other origin, and the OpenAPI document has the district push endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.integration.admin.conftest import PASSWORD, form_csrf
from tests.integration.web.conftest import person_of, sign_in

from rostersync.demo.sandbox import Sandbox
from rostersync.services import Services
from rostersync.web.app import MAX_FILTER, create_app
from rostersync.web.server import PortalServer

# A value nobody would type, so finding it in a response means it was echoed.
MARK = "Zq7echo"
VENDOR = "vendor.refusals@portal.example"


def long_value(length: int) -> str:
    return (MARK * (length // len(MARK) + 1))[:length]


@pytest.fixture(scope="module")
def vendor(world: Sandbox) -> Iterator[httpx.Client]:
    """Vendor staff, signed in, with the API's CSRF token set as a default header."""
    assert world.service is not None
    world.service.staff.add_staff(
        email=VENDOR, display_name="Pat Staff", role="vendor_staff", password=PASSWORD,
        district=None,
    )  # fmt: skip
    with httpx.Client(base_url=world.url, timeout=30) as client:
        csrf = form_csrf(client.get("/staff/login").text)
        signed_in = client.post(
            "/staff/login", data={"email": VENDOR, "password": PASSWORD, "csrf": csrf}
        )
        assert signed_in.status_code == 303, signed_in.text
        client.headers["X-CSRF-Token"] = client.get("/api/v1/session").json()["csrf_token"]
        yield client


def assert_refusal_page(response: httpx.Response, field: str, title: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert title in response.text
    assert f"<code>{field}</code>" in response.text or f"`{field}`" in response.text
    assert MARK not in response.text


class TestRefusalPages:
    """Everywhere a browser can land, a value over its limit gets a page naming the field."""

    @pytest.mark.parametrize(
        ("path", "params", "field"),
        [
            ("/oauth/callback", {"code": long_value(2001), "state": "s"}, "code"),
            ("/oauth/callback", {"code": "c", "state": long_value(201)}, "state"),
            ("/oauth/callback", {"error": long_value(201)}, "error"),
            ("/login", {"q": long_value(101)}, "q"),
            ("/login/start", {"district": long_value(65)}, "district"),
        ],
    )
    def test_sign_in_links_get_the_refusal_page(
        self, browser: httpx.Client, path: str, params: dict[str, str], field: str
    ) -> None:
        response = browser.get(path, params=params)
        assert_refusal_page(response, field, "This link could not be used")
        assert "Back to the login page" in response.text

    def test_staff_links_get_the_staff_error_page(self, browser: httpx.Client) -> None:
        for path, field in (
            (f"/staff/login?next={long_value(2001)}", "next"),
            (f"/staff/invitation/{long_value(201)}", "token"),
        ):
            response = browser.get(path)
            assert_refusal_page(response, field, "This request could not be used")

    def test_a_staff_form_over_its_limits_gets_the_page(self, browser: httpx.Client) -> None:
        response = browser.post(
            "/staff/login", data={"email": long_value(321), "password": "x", "csrf": "x"}
        )
        assert_refusal_page(response, "email", "This request could not be used")
        assert "in the form" in response.text

    def test_the_api_answers_json_naming_the_field_without_the_value(
        self, vendor: httpx.Client
    ) -> None:
        response = vendor.get(
            "/api/v1/districts/springfield/issues", params={"code": long_value(65)}
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/json"
        (error,) = response.json()["detail"]
        assert error["loc"] == ["query", "code"] and error["type"] == "string_too_long"
        assert "input" not in error and MARK not in response.text

    def test_the_api_csrf_header_over_its_limit_is_json_too(self, vendor: httpx.Client) -> None:
        response = vendor.post(
            "/api/v1/districts/springfield/revalidate", headers={"X-CSRF-Token": long_value(201)}
        )
        assert response.status_code == 422
        assert MARK not in response.text
        assert response.json()["detail"][0]["loc"] == ["header", "x-csrf-token"]

    def test_a_non_ascii_csrf_header_is_a_403_not_a_crash(self, vendor: httpx.Client) -> None:
        response = vendor.post(
            "/api/v1/districts/springfield/revalidate",
            headers={"X-CSRF-Token": "é".encode("latin-1")},
        )
        assert response.status_code == 403


class TestCsrfTokensOfAnyCharacter:
    """A form's CSRF field may hold any character: a wrong one is refused, never a crash."""

    def test_a_non_ascii_token_on_the_eligibility_form_is_a_403(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        teacher = person_of(world, "1001", "Teacher")
        sign_in(browser, world, "springfield", "1001", teacher.sourced_id)
        found = re.search(r'action="/students/([^/]+)/eligibility"', browser.get("/").text)
        assert found
        response = browser.post(
            f"/students/{found.group(1)}/eligibility", data={"status": "eligible", "csrf": "é"}
        )
        assert response.status_code == 403
        assert "This form expired" in response.text


class TestSecurityHeaders:
    """No page may be framed; Secure cookies come with HSTS."""

    def test_every_kind_of_response_says_deny(
        self, browser: httpx.Client, vendor: httpx.Client
    ) -> None:
        responses = [
            browser.get("/login"),
            browser.get("/oauth/callback", params={"code": long_value(2001)}),
            browser.get("/static/portal.css"),
            browser.get("/api/openapi.json"),
            browser.get("/api/docs"),
            browser.get("/api/v1/districts"),  # 401
            vendor.get("/admin/districts"),
        ]
        for response in responses:
            assert response.headers["x-frame-options"] == "DENY", response.url
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

    def test_plain_http_loopback_cookies_get_no_hsts(self, browser: httpx.Client) -> None:
        # The sandbox serves plain http with cookies that are not Secure: no HSTS then.
        assert "strict-transport-security" not in browser.get("/login").headers

    def test_secure_cookies_come_with_hsts(self, world: Sandbox) -> None:
        assert world.service is not None
        settings = world.service.settings.model_copy(update={"session_cookie_secure": True})
        service = Services(settings)
        try:
            with PortalServer() as portal:
                portal.start(create_app(service))
                with httpx.Client(base_url=portal.url, timeout=10) as client:
                    for path in ("/login", "/api/openapi.json", "/staff/login"):
                        response = client.get(path)
                        hsts = response.headers["strict-transport-security"]
                        assert hsts == "max-age=31536000; includeSubDomains", path
                        assert response.headers["x-frame-options"] == "DENY"
        finally:
            service.close()


HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def assert_headed(response: httpx.Response) -> None:
    """All the portal's security headers, with the values it sets."""
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"], response.url


class TestSecurityHeadersOnEveryAnswer:
    """Pages, redirects, refusals, validation errors, 404s, 429s and 500s all carry them."""

    def test_redirects_refusals_and_errors(self, browser: httpx.Client, world: Sandbox) -> None:
        start = browser.get("/login/start", params={"district": world.district_ids["springfield"]})
        assert start.status_code == 303
        refused = browser.get("/oauth/callback", params={"code": "x", "error": "access_denied"})
        assert refused.status_code == 403
        missing = browser.get("/no/such/page")
        assert missing.status_code == 404
        invalid = browser.get("/login", params={"q": long_value(MAX_FILTER + 1)})
        assert invalid.status_code == 400
        for response in (browser.get("/login"), start, refused, missing, invalid):
            assert_headed(response)
            assert response.headers["cache-control"] == "no-store"
        assert_headed(browser.get("/static/portal.css"))

    def test_an_unhandled_error_500_is_headed_too(self, world: Sandbox) -> None:
        assert world.service is not None
        app = create_app(world.service)

        def boom() -> None:
            raise RuntimeError("a bug")

        app.add_api_route("/boom", boom)
        with PortalServer() as portal:
            portal.start(app)
            with httpx.Client(base_url=portal.url, timeout=10) as client:
                response = client.get("/boom")
        assert response.status_code == 500
        assert_headed(response)


class TestApiDocs:
    """Swagger UI from this portal, under a strict policy; the push endpoint documented."""

    def test_the_docs_page_loads_nothing_from_elsewhere_and_runs_no_inline_script(
        self, browser: httpx.Client
    ) -> None:
        page = browser.get("/api/docs")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "http" not in policy  # no other origin, CDN or otherwise
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, flags=re.S)
        assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
        for source in sources:
            asset = browser.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 100, source
        bundle = browser.get(next(s for s in sources if s.endswith("swagger-ui-bundle.js")))
        assert "SwaggerUIBundle" in bundle.text

    def test_the_document_has_the_push_endpoint_and_its_scheme(self, browser: httpx.Client) -> None:
        document: dict[str, Any] = browser.get("/api/openapi.json").json()
        push = document["paths"]["/v1/districts/{slug}/bundles"]["post"]
        assert push["security"] == [{"pushKey": []}]
        assert {"application/zip", "multipart/form-data"} <= set(push["requestBody"]["content"])
        assert {"202", "401", "409", "413", "415", "422"} <= set(push["responses"])
        status = document["paths"]["/v1/districts/{slug}/bundles/{bundle_id}"]["get"]
        assert status["security"] == [{"pushKey": []}]
        schemes = document["components"]["securitySchemes"]
        assert schemes["pushKey"] == {
            "type": "http",
            "scheme": "basic",
            "description": schemes["pushKey"]["description"],
        }
        assert schemes["staffSession"]["in"] == "cookie"
        imports = document["paths"]["/v1/districts/{slug}/imports"]["post"]
        assert "multipart/form-data" in imports["requestBody"]["content"]
        assert {"201", "400", "401", "403", "404", "413", "422"} <= set(imports["responses"])

    def test_the_push_endpoint_still_answers_where_it_did(self, browser: httpx.Client) -> None:
        response = browser.post(
            "/api/v1/districts/springfield/bundles",
            content=b"PK",
            headers={"Content-Type": "application/zip"},
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
