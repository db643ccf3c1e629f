"""`rostersync serve --workers 2` in a process of its own: sign-ins work across its workers.

The portal is started as an operator would (configured through the environment, the staff rate
limits in Redis) against a sandbox's database (SQLite and PostgreSQL), with the sandbox's ClassLink
simulator registered for it. Which worker answers is made certain by pausing the other (SIGSTOP: a
stopped process accepts no connection from the shared socket), so each step of one login is served
by a chosen worker: the login started on one is finished and honoured on the other, and /metrics
on one adds up both workers' counts. Then Ctrl-C stops the parent and both workers, and the
private metrics directory is removed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from markupsafe import escape
from tests.integration import sandboxes
from tests.integration.redis_queue import REDIS_URL, redis_or_skip

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator.sso import SsoClient

CLIENT_ID = "educator-portal-workers"


@dataclass
class Served:
    """The running `rostersync serve --workers 2` and what the tests need of it."""

    process: subprocess.Popen[bytes]
    url: str
    workers: list[int]
    sandbox: Sandbox
    log: Path


def _workers(parent: int) -> list[int]:
    """The worker processes of uvicorn's parent (not multiprocessing's resource tracker)."""
    found = []
    for task in os.listdir(f"/proc/{parent}/task"):
        with open(f"/proc/{parent}/task/{task}/children") as handle:
            for pid in handle.read().split():
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if b"spawn_main" in cmdline.read():
                        found.append(int(pid))
    return sorted(found)


def _metrics_dir(pid: int) -> str:
    with open(f"/proc/{pid}/environ", "rb") as handle:
        pairs = dict(item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item)
    return pairs[b"PROMETHEUS_MULTIPROC_DIR"].decode()


@pytest.fixture(scope="module")
def served(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    client = redis_or_skip()
    queue_name = f"rostersync-workers-test-{secrets.token_hex(6)}"
    tmp: Path = tmp_path_factory.mktemp("serve-workers")
    settings = sandboxes.portal_settings(tmp, databases.new())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(24)
    with Sandbox(settings, [sandboxes.springfield(30)]) as sandbox:
        sandbox.sso.add_client(SsoClient(CLIENT_ID, secret, f"{url}/oauth/callback"))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
            "ROSTERSYNC_DATABASE_URL": settings.database_url,
            "ROSTERSYNC_SECRET_KEYS": settings.secret_keys,
            "ROSTERSYNC_DATA_DIR": str(tmp),
            "ROSTERSYNC_RATE_LIMIT_STORAGE_URL": REDIS_URL,
            "ROSTERSYNC_QUEUE_NAME": queue_name,
            "ROSTERSYNC_CLASSLINK_ISSUER": sandbox.sso.issuer,
            "ROSTERSYNC_CLASSLINK_CLIENT_ID": CLIENT_ID,
            "ROSTERSYNC_CLASSLINK_CLIENT_SECRET": secret,
            "ROSTERSYNC_CLASSLINK_USERINFO_URL": f"{sandbox.sso.url}/v2/my/info",
            "ROSTERSYNC_PORTAL_BASE_URL": url,
            "ROSTERSYNC_SESSION_COOKIE_SECURE": "false",
            "ROSTERSYNC_LOG_FORMAT": "json",
        }
        command = [
            str(Path(sys.executable).parent / "rostersync"), "serve", "--port", str(port),
            "--workers", "2",
        ]  # fmt: skip
        log = tmp / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120  # two workers import and build the app
            workers: list[int] = []
            while len(workers) < 2 or not _answers(url):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the portal's workers did not start"
                workers = _workers(process.pid)
                time.sleep(0.2)
            yield Served(process, url, workers, sandbox, log)
        finally:
            if process.poll() is None:
                for pid in _workers(process.pid):
                    os.kill(pid, signal.SIGCONT)
                process.terminate()
                process.wait(timeout=30)
            for key in client.scan_iter(match=f"{queue_name}*"):
                client.delete(key)
            client.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/login", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def only(served: Served, worker: int) -> Iterator[httpx.Client]:
    """A browser's new connections, all served by `worker`: the other workers are paused."""
    paused = [pid for pid in served.workers if pid != worker]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        with httpx.Client(timeout=30) as client:  # its own connections, made while paused
            yield client
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


class TestServeWorkers:
    def test_a_login_started_on_one_worker_is_finished_and_honoured_on_the_other(
        self, served: Served
    ) -> None:
        first, second = served.workers
        district_id = served.sandbox.district_ids["springfield"]
        person = next(p for p in served.sandbox.sso.people("1001") if p.role == "Student")
        with only(served, first) as browser:
            start = browser.get(f"{served.url}/login/start", params={"district": district_id})
            assert start.status_code == 303
            jar = dict(browser.cookies)
        authorize = start.headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        picked = httpx.post(
            authorize.split("?")[0], data={**query, "person": f"1001:{person.sourced_id}"}
        )
        assert picked.status_code == 302
        with only(served, second) as browser:
            browser.cookies.update(jar)  # the login-binding cookie set by the first worker
            done = browser.get(picked.headers["location"])
            assert done.status_code == 303 and done.headers["location"] == "/"
            session = browser.cookies["rostersync_session"]
        with only(served, first) as browser:
            browser.cookies.set("rostersync_session", session)
            home = browser.get(f"{served.url}/")
        assert home.status_code == 200
        assert str(escape(person.display_name)) in home.text
        with only(served, second) as browser:
            browser.cookies.set("rostersync_session", session)
            assert browser.post(f"{served.url}/logout").status_code == 303
        with only(served, first) as browser:
            browser.cookies.set("rostersync_session", session)
            assert browser.get(f"{served.url}/").headers["location"] == "/login"

    def test_metrics_add_up_the_counts_of_every_worker(self, served: Served) -> None:
        for worker in served.workers:  # one refused callback on each worker
            with only(served, worker) as browser:
                assert browser.get(f"{served.url}/oauth/callback").status_code == 403
        with only(served, served.workers[0]) as browser:
            page = browser.get(f"{served.url}/metrics")  # from loopback
        assert page.status_code == 200
        line = 'rostersync_sign_in_refusals_total{reason="callback_without_code"} 2.0'
        assert line in page.text.splitlines()

    def test_ctrl_c_stops_the_parent_and_its_workers_and_removes_the_metrics_directory(
        self, served: Served
    ) -> None:
        workers = _workers(served.process.pid)
        assert len(workers) == 2
        directory = _metrics_dir(workers[0])
        assert directory == _metrics_dir(workers[1]) and Path(directory).is_dir()
        assert oct(Path(directory).stat().st_mode & 0o777) == "0o700"
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(timeout=60) == 0, served.log.read_text()
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        assert not Path(directory).exists()
        assert not _answers(served.url)


def test_several_workers_without_shared_rate_limits_are_refused(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
        "ROSTERSYNC_DATA_DIR": str(tmp_path),
        "ROSTERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
    }
    refused = subprocess.run(
        [str(Path(sys.executable).parent / "rostersync"), "serve", "--workers", "2"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "ROSTERSYNC_RATE_LIMIT_STORAGE_URL" in refused.stdout + refused.stderr
