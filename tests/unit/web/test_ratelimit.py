"""The rate-limit table and settings, and the references and pseudonyms refusals carry."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from rostersync.config import Settings
from rostersync.refusals import new_reference, pseudonym
from rostersync.staff.limits import RateLimited, RateLimits
from rostersync.web.ratelimit import action_for


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", "/staff/login", "sign_in"),
        ("POST", "/staff/login/code", "sign_in"),
        ("GET", "/staff/login", None),
        ("GET", "/staff/invitation/abc-DEF_1", "invitation"),
        ("POST", "/staff/invitation/abc-DEF_1", "invitation"),
        ("POST", "/staff/totp", "totp"),
        ("GET", "/staff/totp", None),
        ("POST", "/staff/logout", None),
        ("POST", "/staff/login/elsewhere", None),
    ],
)
def test_which_requests_are_tries(method: str, path: str, action: str | None) -> None:
    assert action_for(method, path) == action


def test_an_unreadable_limit_is_refused_with_an_example() -> None:
    with pytest.raises(ValidationError, match="for example '30 per 10 minutes'"):
        Settings(rate_limit_per_address="thirty a minute")


def test_budgets_refuse_after_the_failures_they_allow() -> None:
    settings = Settings(
        secret_keys=Fernet.generate_key().decode(), rate_limit_per_account="2 per 1 minute"
    )
    limits = RateLimits(settings)
    for _ in range(2):
        limits.check("totp", "account", "staff-1")
        limits.failed("totp", "account", "staff-1")
    with pytest.raises(RateLimited) as refused:
        limits.check("totp", "account", "staff-1")
    assert refused.value.scope == "account" and 1 <= refused.value.retry_after_seconds <= 61
    assert "for this account" in str(refused.value)
    limits.check("totp", "account", "staff-2")  # another account's budget is untouched
    limits.check("sign_in", "account", "staff-1")  # and so is another action's


def test_references_are_readable_and_different() -> None:
    made = {new_reference() for _ in range(1000)}
    assert len(made) == 1000
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", r) for r in made)


def test_pseudonyms_are_stable_under_one_key_and_differ_under_another() -> None:
    one, other = (Settings(secret_keys=Fernet.generate_key().decode()) for _ in range(2))
    email = "maria.lopez@springfield.example"
    assert pseudonym(email, one) == pseudonym(email, one)
    assert pseudonym(email, one) != pseudonym(email, other)
    assert re.fullmatch(r"[0-9a-f]{16}", pseudonym(email, one))
