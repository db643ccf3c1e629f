"""A form token of any character is a refusal, never a server error.

Forms may post any text; comparing a non-ASCII token as text makes `hmac.compare_digest` raise,
which answered 500. Every gate compares through `web.gates.tokens_match`.
"""

from __future__ import annotations

import httpx
import pytest
from tests.integration.admin.conftest import AdminWorld, form_csrf, staff_sign_in

from rostersync.web.gates import tokens_match

ODD = ["é", "トークン", "\u202e", "x" * 5 + "ü"]


@pytest.mark.parametrize("token", ODD)
def test_an_admin_form_refuses_an_odd_token_with_403(
    browser: httpx.Client, world: AdminWorld, token: str
) -> None:
    assert staff_sign_in(browser, world.vendor.email).status_code == 303
    response = browser.post("/admin/districts/springfield/preview", data={"csrf": token})
    assert response.status_code == 403
    assert "This form expired" in response.text


@pytest.mark.parametrize("token", ODD)
def test_the_staff_sign_in_form_asks_again_for_an_odd_token(
    browser: httpx.Client, world: AdminWorld, token: str
) -> None:
    form_csrf(browser.get("/staff/login").text)  # the login cookie is set
    response = browser.post(
        "/staff/login",
        data={"email": world.vendor.email, "password": "wrong", "csrf": token, "next": "/"},
    )
    assert response.status_code < 500
    assert "This form expired" in response.text


def test_tokens_match_compares_any_text_and_never_an_empty_expectation() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("é", "abc")
    assert not tokens_match("", "")
    assert tokens_match("ü", "ü")


@pytest.mark.parametrize("token", ODD)
def test_an_onboarding_form_refuses_an_odd_token_with_403(
    browser: httpx.Client, world: AdminWorld, token: str
) -> None:
    assert staff_sign_in(browser, world.vendor.email).status_code == 303
    response = browser.post("/admin/onboarding/springfield/schedule", data={"csrf": token})
    assert response.status_code == 403
    assert "This form expired" in response.text
