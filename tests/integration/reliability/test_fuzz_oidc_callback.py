"""Fuzzing the ClassLink sign-in callback in CI: whatever query string arrives at
`/oauth/callback`, from a browser that started a sign-in or not, the portal answers over real
HTTP with a redirect or its HTML refusal page; never a 500 and never FastAPI's raw 422 JSON
(`bench.fuzz.targets`; the long run is `python -m bench.fuzz`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.fuzz.targets import callback_queries, check_callback, start_sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("fuzz-callback")
    settings = sandboxes.portal_settings(tmp, sso_timeout_seconds=2.0)
    district = sandboxes.springfield(10)
    with Sandbox(settings, [district]) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def fresh(world: Sandbox) -> Iterator[httpx.Client]:
    """A browser that never started a sign-in."""
    with httpx.Client(base_url=world.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def started(world: Sandbox) -> Iterator[httpx.Client]:
    """A browser that chooses its district on the login page (and so holds a login cookie)."""
    with httpx.Client(base_url=world.url, timeout=10) as client:
        yield client


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(bound=st.booleans(), with_state=st.booleans(), params=callback_queries())
def test_any_callback_gets_a_redirect_or_a_refusal_page(
    world: Sandbox,
    fresh: httpx.Client,
    started: httpx.Client,
    bound: bool,
    with_state: bool,
    params: list[tuple[str, str]],
) -> None:
    # A started sign-in's state is used up by its first callback: start one each time.
    state = start_sign_in(started, world.district_ids["springfield"]) if bound else "unknown"
    extra = [("state", state)] if with_state else []
    check_callback(started if bound else fresh, extra + params)


def test_a_made_up_code_with_the_real_state_is_refused(
    world: Sandbox, started: httpx.Client
) -> None:
    """The code exchange itself is reached (the state is the one sent), and ClassLink's
    refusal of the code becomes the refusal page; the used-up state then restarts the login."""
    state = start_sign_in(started, world.district_ids["springfield"])
    assert check_callback(started, [("code", "made-up"), ("state", state)]) == "refused"
    assert check_callback(started, [("code", "made-up"), ("state", state)]) == "redirect"
