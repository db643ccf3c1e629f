"""Expired sign-in rows are refused when read, whether or not they were swept yet.

Expired login states and sessions, and old code records, are swept at most once a minute per
process (`SWEEP_EVERY`), not on every login: nothing may depend on the sweep for correctness.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update
from tests.integration.web.conftest import authorize, person_of, pick, session_cookie, sign_in

from rostersync.demo.sandbox import Sandbox
from rostersync.signin.portal import Portal
from rostersync.store.web_tables import login_states, web_sessions


def _portal(world: Sandbox) -> Portal:
    assert world.service is not None
    return world.service.signin


def _expired() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


def test_an_expired_session_not_yet_swept_is_refused(browser: httpx.Client, world: Sandbox) -> None:
    student = person_of(world, "1001", "Student")
    assert sign_in(browser, world, "springfield", "1001", student.sourced_id).status_code == 303
    assert browser.get("/").status_code == 200
    portal = _portal(world)
    portal._next_sweep = float("inf")  # no sweep in this test: the read alone must refuse
    with portal.engine.begin() as conn:
        conn.execute(update(web_sessions).values(expires_at=_expired()))
    assert browser.get("/").status_code == 303
    authorize(browser, world, "springfield")  # a new login does not sweep now
    with portal.engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(web_sessions)).scalar_one()
    assert left >= 1  # still there, and still refused
    assert browser.get("/").status_code == 303


def test_an_expired_login_state_not_yet_swept_bounces(
    browser: httpx.Client, world: Sandbox
) -> None:
    student = person_of(world, "1001", "Student")
    portal = _portal(world)
    portal._next_sweep = float("inf")
    start = authorize(browser, world, "springfield")
    callback = pick(browser, start.headers["location"], "1001", student.sourced_id)
    with portal.engine.begin() as conn:
        conn.execute(update(login_states).values(expires_at=_expired()))
    response = browser.get(callback.url)
    assert response.headers["location"].startswith(world.sso.url)  # restarted, not signed in
    assert session_cookie(browser) is None
    assert world.sso.token_requests_for(callback.code) == 0


def test_the_sweep_runs_once_per_interval(browser: httpx.Client, world: Sandbox) -> None:
    portal = _portal(world)
    with portal.engine.begin() as conn:
        conn.execute(update(login_states).values(expires_at=_expired()))
        conn.execute(update(web_sessions).values(expires_at=_expired()))
    portal._next_sweep = float("-inf")  # due
    authorize(browser, world, "springfield")
    with portal.engine.begin() as conn:
        sessions = conn.execute(select(func.count()).select_from(web_sessions)).scalar_one()
        states = conn.execute(select(func.count()).select_from(login_states)).scalar_one()
        assert (sessions, states) == (0, 1)  # swept: only the login just started is left
        conn.execute(update(login_states).values(expires_at=_expired()))
    authorize(browser, world, "springfield")  # within the minute: no second sweep
    with portal.engine.connect() as conn:
        states = conn.execute(select(func.count()).select_from(login_states)).scalar_one()
    assert states == 2
