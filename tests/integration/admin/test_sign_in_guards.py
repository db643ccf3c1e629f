"""Guards on the staff paths an attacker retries, over real HTTP (decision 0023).

A lock is never extended by tries made while it lasts; failed tries are limited per client
address and per account on sign-in, the two-step code, invitations and two-step set-up, with a
429 page that says when to try again and a log line under the page's reference. The portal runs
with small budgets; the lockout test moves the clock staff sign-in goes by (`StaffAuth.clock`)
instead of waiting 15 minutes. Each test comes from addresses of its own (uvicorn takes the
client's address from `X-Forwarded-For` sent by loopback, as from a proxy on the machine).
"""

from __future__ import annotations

import email
import itertools
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import select
from tests.integration import sandboxes
from tests.integration.admin.conftest import (
    PASSWORD,
    AdminWorld,
    add_staff,
    form_csrf,
    session_cookie,
    staff_sign_in,
)

from rostersync.demo.sandbox import Sandbox
from rostersync.staff.policy import MAX_FAILURES
from rostersync.staff.totp import totp_code
from rostersync.store.admin_tables import staff_sign_in_failures

PER_ADDRESS = 6
PER_ACCOUNT = 10
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminWorld]:
    tmp: Path = tmp_path_factory.mktemp("guards")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        rate_limit_per_address=f"{PER_ADDRESS} per 1 minute",
        rate_limit_per_account=f"{PER_ACCOUNT} per 1 minute",
    )
    district = sandboxes.springfield(5)
    with Sandbox(settings, [district]) as sandbox:
        manager = add_staff(sandbox, "dm@springfield.example", "data_manager", "springfield")
        yield AdminWorld(
            sandbox=sandbox,
            vendor=add_staff(sandbox, "vendor@portal.example", "vendor_staff", None),
            dm_springfield=manager,
            dm_shelbyville=manager,  # this world has one district
        )


class Clock:
    """Real time, moved on by a test: the time the portal's staff sign-in goes by."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def move_to(self, moment: datetime) -> None:
        self.ahead = moment.timestamp() - time.time()


@pytest.fixture
def clock(world: AdminWorld) -> Iterator[Clock]:
    auth = world.service.staff
    real, auth.clock = auth.clock, Clock()
    yield auth.clock
    auth.clock = real


def client_from(world: AdminWorld, address: str | None = None) -> httpx.Client:
    """A browser whose requests come from `address` (a fresh one by default)."""
    headers = {"X-Forwarded-For": address or next(_addresses)}
    return httpx.Client(base_url=world.url, headers=headers, timeout=30)


def new_account(world: AdminWorld, address: str) -> str:
    return str(
        world.service.staff.add_staff(
            email=address, display_name="Sam Guarded", role="data_manager",
            password=PASSWORD, district="springfield",
        )
    )  # fmt: skip


def locked_until(world: AdminWorld, staff_id: str) -> datetime | None:
    with world.service.engine.connect() as conn:
        value = conn.execute(
            select(staff_sign_in_failures.c.locked_until).where(
                staff_sign_in_failures.c.staff_id == staff_id
            )
        ).scalar_one_or_none()
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def assert_too_many(response: httpx.Response, events: list[dict[str, Any]], *secrets: str) -> str:
    """A 429 page saying when to try again, logged under its reference with no personal data."""
    assert response.status_code == 429, response.text
    assert "Try again after" in response.text and "UTC" in response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    found = re.search(r"Reference: <code>([0-9A-Z]{5}-[0-9A-Z]{5})</code>", response.text)
    assert found, response.text
    logged = [e for e in events if e["event"] == "rate_limit.refused"]
    assert [e["reference"] for e in logged] == [found.group(1)]
    for secret in secrets:
        assert secret not in repr(events)
    return found.group(1)


class TestLockout:
    def test_tries_during_a_lock_do_not_extend_it(self, world: AdminWorld, clock: Clock) -> None:
        address = "lock.kept@portal.example"
        staff_id = new_account(world, address)
        for _ in range(MAX_FAILURES):
            with client_from(world) as browser:
                assert staff_sign_in(browser, address, "wrong password!!").status_code == 401
        until = locked_until(world, staff_id)
        assert until is not None
        assert abs(
            until - datetime.fromtimestamp(clock(), UTC) - timedelta(minutes=15)
        ) < timedelta(minutes=1)
        # Ten minutes on, an attacker is still trying; the owner's right password is refused.
        clock.move_to(until - timedelta(minutes=5))
        for password in ("another wrong one", PASSWORD):
            with client_from(world) as browser:
                assert staff_sign_in(browser, address, password).status_code == 401
        assert locked_until(world, staff_id) == until
        clock.move_to(until - timedelta(seconds=5))
        with client_from(world) as browser:
            assert staff_sign_in(browser, address).status_code == 401
        # The lock ends when it first said it would.
        clock.move_to(until + timedelta(seconds=1))
        with client_from(world) as browser:
            assert staff_sign_in(browser, address).status_code == 303


class TestPerAddress:
    def test_failed_sign_ins_from_one_address_are_limited(self, world: AdminWorld) -> None:
        address = next(_addresses)
        with client_from(world, address) as browser:
            for n in range(PER_ADDRESS):
                wrong = staff_sign_in(browser, f"nobody{n}@portal.example", "wrong password!!")
                assert wrong.status_code == 401
            with structlog.testing.capture_logs() as events:
                refused = staff_sign_in(browser, world.vendor.email)
            assert_too_many(refused, events, world.vendor.email, address)
            assert session_cookie(browser) is None
        with client_from(world) as elsewhere:
            assert staff_sign_in(elsewhere, world.vendor.email).status_code == 303

    def test_wrong_codes_from_one_address_are_limited(self, world: AdminWorld) -> None:
        address = "codes.guarded@portal.example"
        new_account(world, address)
        with client_from(world) as browser:
            staff_sign_in(browser, address)
            secret = enrol(browser)
        wrong = f"{(int(totp_code(secret, time.time())) + 500_000) % 1_000_000:06d}"
        with client_from(world) as browser:
            assert staff_sign_in(browser, address).status_code == 303  # to the code step
            for _ in range(PER_ADDRESS):
                assert browser.post("/staff/login/code", data={"code": wrong}).status_code == 401
            with structlog.testing.capture_logs() as events:
                refused = browser.post("/staff/login/code", data={"code": wrong})
            assert_too_many(refused, events, address)

    def test_unknown_invitation_links_from_one_address_are_limited(self, world: AdminWorld) -> None:
        with client_from(world) as browser:
            for n in range(PER_ADDRESS):
                assert browser.get(f"/staff/invitation/guess-{n}").status_code == 410
            with structlog.testing.capture_logs() as events:
                refused = browser.get("/staff/invitation/guess-again")
            assert_too_many(refused, events)


class TestPerAccount:
    def test_failed_sign_ins_for_one_account_are_limited_from_any_address(
        self, world: AdminWorld
    ) -> None:
        address = "many.tries@portal.example"
        new_account(world, address)
        for _ in range(PER_ACCOUNT):
            with client_from(world) as browser:
                assert staff_sign_in(browser, address, "wrong password!!").status_code == 401
        with client_from(world) as browser, structlog.testing.capture_logs() as events:
            refused = staff_sign_in(browser, address)
        assert_too_many(refused, events, address)
        assert "for this account" in refused.text

    def test_wrong_set_up_codes_for_one_account_are_limited(self, world: AdminWorld) -> None:
        address = "setup.tries@portal.example"
        new_account(world, address)
        with client_from(world) as browser:
            staff_sign_in(browser, address)
            cookie = session_cookie(browser) or ""
            csrf = form_csrf(browser.get("/staff/totp").text)
        for _ in range(PER_ACCOUNT):
            with client_from(world) as browser:
                browser.cookies.set("rostersync_session", cookie)
                tried = browser.post("/staff/totp", data={"code": "12345", "csrf": csrf})
                assert tried.status_code == 400
        with client_from(world) as browser, structlog.testing.capture_logs() as events:
            browser.cookies.set("rostersync_session", cookie)
            refused = browser.post("/staff/totp", data={"code": "12345", "csrf": csrf})
        assert_too_many(refused, events, address)

    def test_refused_passwords_for_one_invitation_are_limited(self, world: AdminWorld) -> None:
        address = "invited.tries@springfield.example"
        world.service.staff.invite(
            district=world.sandbox.district_ids["springfield"], email=address, actor="staff:test"
        )
        link = invitation_path(world, address)
        for _ in range(PER_ACCOUNT):
            with client_from(world) as browser:
                tried = accept(browser, link, "too short")
                assert tried.status_code == 400 and "Not saved" in tried.text
        with client_from(world) as browser, structlog.testing.capture_logs() as events:
            refused = accept(browser, link, "a long enough password for this")
        assert_too_many(refused, events, address)


class TestTotpSetUp:
    def test_the_set_up_page_shows_the_same_secret_until_it_is_used(
        self, world: AdminWorld
    ) -> None:
        address = "stable.secret@portal.example"
        new_account(world, address)
        with client_from(world) as browser:
            staff_sign_in(browser, address)
            first, again = shown_secret(browser), shown_secret(browser)
            assert first == again
            with client_from(world) as other_tab:
                other_tab.cookies.set("rostersync_session", session_cookie(browser) or "")
                assert shown_secret(other_tab) == first
            page = browser.get("/staff/totp").text
            code = totp_code(first, time.time())
            done = browser.post("/staff/totp", data={"code": code, "csrf": form_csrf(page)})
            assert done.status_code == 303
            assert "Two-step sign-in is on" in browser.get("/staff/totp").text


def shown_secret(browser: httpx.Client) -> str:
    page = browser.get("/staff/totp")
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert found, page.text
    return found.group(1)


def enrol(browser: httpx.Client) -> str:
    """Turn TOTP on for the signed-in staff member; returns the secret."""
    secret = shown_secret(browser)
    page = browser.get("/staff/totp").text
    code = totp_code(secret, time.time())
    assert browser.post("/staff/totp", data={"code": code, "csrf": form_csrf(page)}).status_code
    return secret


def invitation_path(world: AdminWorld, to: str) -> str:
    """The path of the newest invitation link emailed to `to` (from the outbox folder)."""
    directory = world.service.settings.resolved_outbox_dir
    for path in sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == to:
            text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            body = text.get_payload(decode=True).decode()
            found = re.search(r"(/staff/invitation/[A-Za-z0-9_-]+)", body)
            assert found, body
            return found.group(1)
    raise AssertionError(f"no invitation to {to} in {directory}")


def accept(browser: httpx.Client, path: str, password: str) -> httpx.Response:
    csrf = form_csrf(browser.get(path).text)
    return browser.post(
        path,
        data={"name": "Ines Invited", "password": password, "password_again": password,
              "csrf": csrf},
    )  # fmt: skip
