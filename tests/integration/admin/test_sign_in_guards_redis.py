"""With the queue on Redis, every portal process shares the failed-try counts (decision 0023).

Two portals over one database and one Redis: one served in this process, the other a real
`rostersync serve` process. Tries refused at one count at the other, per address and per account.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, staff_sign_in
from tests.integration.redis_queue import REDIS_URL, redis_or_skip

from rostersync.demo.sandbox import Sandbox

BUDGET = 4


@pytest.fixture(scope="module")
def portals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(this process's portal URL, the other process's portal URL)."""
    client = redis_or_skip()
    queue_name = f"rostersync-guards-test-{secrets.token_hex(6)}"
    tmp: Path = tmp_path_factory.mktemp("guards-redis")
    settings = sandboxes.portal_settings(
        tmp,
        queue_backend="redis",
        redis_url=REDIS_URL,
        queue_name=queue_name,
        rate_limit_per_address=f"{BUDGET} per 1 minute",
        rate_limit_per_account=f"{BUDGET} per 1 minute",
    )
    district = sandboxes.springfield(5)
    with Sandbox(settings, [district]) as sandbox:
        assert sandbox.service is not None
        sandbox.service.staff.add_staff(
            email="shared@portal.example", display_name="Sal Shared", role="vendor_staff",
            password=PASSWORD, district=None,
        )  # fmt: skip
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
            "ROSTERSYNC_DATABASE_URL": settings.database_url,
            "ROSTERSYNC_SECRET_KEYS": settings.secret_keys,
            "ROSTERSYNC_DATA_DIR": str(tmp),
            "ROSTERSYNC_QUEUE_BACKEND": "redis",
            "ROSTERSYNC_REDIS_URL": REDIS_URL,
            "ROSTERSYNC_QUEUE_NAME": queue_name,
            "ROSTERSYNC_RATE_LIMIT_PER_ADDRESS": settings.rate_limit_per_address,
            "ROSTERSYNC_RATE_LIMIT_PER_ACCOUNT": settings.rate_limit_per_account,
            "ROSTERSYNC_SESSION_COOKIE_SECURE": "false",
            "ROSTERSYNC_LOG_FORMAT": "json",
        }
        command = [str(Path(sys.executable).parent / "rostersync"), "serve", "--port", str(port)]
        log = tmp / "other-portal.log"
        with log.open("wb") as output:
            other = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        other_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:  # until the other process answers
                assert other.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{other_url}/staff/login").status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the second portal did not start"
                    time.sleep(0.1)
            yield sandbox.url, other_url
        finally:
            other.terminate()
            other.wait(timeout=10)
            for key in client.scan_iter(match=f"{queue_name}*"):
                client.delete(key)
            client.close()


def browser(url: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-Forwarded-For": address}, timeout=30)


class TestSharedCounts:
    def test_failures_at_one_portal_count_at_the_other_per_address(
        self, portals: tuple[str, str]
    ) -> None:
        here, there = portals
        with browser(here, "198.51.100.201") as first:
            for n in range(BUDGET):
                assert (
                    staff_sign_in(first, f"nobody{n}@portal.example", "wrong!").status_code == 401
                )
        with browser(there, "198.51.100.201") as second:
            refused = staff_sign_in(second, "shared@portal.example")
            assert refused.status_code == 429 and "Try again after" in refused.text
        with browser(there, "198.51.100.202") as elsewhere:
            assert staff_sign_in(elsewhere, "shared@portal.example").status_code == 303

    def test_failures_at_one_portal_count_at_the_other_per_account(
        self, portals: tuple[str, str]
    ) -> None:
        here, there = portals
        for n, url in enumerate([here, there] * (BUDGET // 2)):
            with browser(url, f"198.51.100.{210 + n}") as tried:
                assert staff_sign_in(tried, "target@portal.example", "wrong!").status_code == 401
        with browser(here, "198.51.100.230") as last:
            refused = staff_sign_in(last, "target@portal.example", "wrong!")
            assert refused.status_code == 429 and "for this account" in refused.text
