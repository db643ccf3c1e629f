"""Sign-in at the speed of a school morning: the portal served by `rostersync serve --workers N`,
the ClassLink stand-in in its own process, many browsers at once.

    make bench-signin                                                  # 1 and 2 workers, SQLite
    .venv/bin/python -m bench.signin_processes --workers 1 2 --logins 3000 --concurrency 64
    .venv/bin/python -m bench.signin_processes --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.signin_processes --workers 1 --profile /tmp/serve.prof  # CPU

Set-up (not timed): districts are generated, onboarded and synced into a fresh database (a SQLite
file, or a PostgreSQL schema of its own dropped at the end) by the in-process sandbox, which is
then stopped. Each round then starts, as separate processes:

- the SSO simulator (`bench.signin_sso`), serving the same generated districts;
- the portal, `rostersync serve --workers N` on a free loopback port, configured through the
  environment as an operator would (staff rate limits in Redis, as more than one worker needs).

This process drives the logins with asyncio and httpx: `--concurrency` browsers, each with its own
cookie jar, following the real redirects (/login/start, the simulator's authorize form POSTed as
the person, the callback, then the home page). Every login is checked: the home page must name
the person who logged in and their district, and only people whose name is unique in their
district are used, so a session of anyone else cannot pass. Halfway through, the simulator
rotates its signing key.

Reported per round: logins/s (wall clock), p50/p95/max latency of a login (start to signed-in
cookie), errors, wrong-account sign-ins, the CPU milliseconds per login of the portal's processes
(utime + stime from /proc/<pid>/stat of `rostersync serve` and its workers, before and after the
timed logins), of the simulator and of this driver, and the JWKS fetches seen by the simulator.
`2000 / portal CPU ms` is what two cores could give if they ran the portal alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from markupsafe import escape

from bench.sign_in_load import Person, _database, people_of, sandbox_districts
from rostersync.config import Settings
from rostersync.demo.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLIENT_ID = "educator-portal"


@dataclass(slots=True)
class RoundReport:
    """What one round (one portal configuration) measured and found."""

    workers: int
    logins: int
    concurrency: int
    seconds: float
    logins_per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    errors: int
    wrong_account: int
    portal_cpu_ms_per_login: float
    sso_cpu_ms_per_login: float
    driver_cpu_ms_per_login: float
    two_core_ceiling_logins_per_second: float
    jwks_fetches: int
    rotations: int
    load_average: tuple[float, float]
    problems: list[str] = field(default_factory=list)


# CPU time from /proc ---------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, as /proc shows them now."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of these processes (the ones still alive), in seconds."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / CLK_TCK


# The processes ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Simulator:
    """The SSO simulator's process, and its line commands."""

    def __init__(self, students: int, districts: int, secret: str, redirect_uri: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.signin_sso", "--students", str(students),
             "--districts", str(districts), f"--client-secret={secret}",  # may start with "-"
             f"--redirect-uri={redirect_uri}"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.url = self._ask(None).removeprefix("url ")

    def _ask(self, command: str | None) -> str:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        if command is not None:
            stdin.write(command + "\n")
            stdin.flush()
        line = stdout.readline().strip()
        if not line:
            raise RuntimeError("the SSO simulator stopped")
        return line

    def rotate(self) -> None:
        self._ask("rotate")

    def jwks_requests(self) -> int:
        return int(self._ask("stats").split()[1])

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def portal_environment(
    database_url: str,
    data_dir: Path,
    keys: str,
    sso_url: str,
    secret: str,
    port: int,
    redis_url: str,
) -> dict[str, str]:
    """What `rostersync serve` is configured with, as an operator would: the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")}
    env.update(
        ROSTERSYNC_DATABASE_URL=database_url,
        ROSTERSYNC_DATA_DIR=str(data_dir),
        ROSTERSYNC_SECRET_KEYS=keys,
        ROSTERSYNC_CLASSLINK_ISSUER=sso_url,
        ROSTERSYNC_CLASSLINK_CLIENT_ID=CLIENT_ID,
        ROSTERSYNC_CLASSLINK_CLIENT_SECRET=secret,
        ROSTERSYNC_CLASSLINK_USERINFO_URL=f"{sso_url}/v2/my/info",
        ROSTERSYNC_PORTAL_BASE_URL=f"http://127.0.0.1:{port}",
        ROSTERSYNC_SESSION_COOKIE_SECURE="false",
        ROSTERSYNC_LOG_LEVEL="WARNING",
        ROSTERSYNC_LOG_FORMAT="json",
        ROSTERSYNC_RATE_LIMIT_STORAGE_URL=redis_url,
        ROSTERSYNC_QUEUE_NAME=f"rs-bench-{secrets.token_hex(4)}",
    )  # fmt: skip
    return env


def start_portal(
    env: dict[str, str], port: int, workers: int, log: IO[str], profile: Path | None = None
) -> subprocess.Popen[bytes]:
    """`rostersync serve --workers N`, or with `profile` one profiled process writing there
    (`bench.signin_serve_profiled`); returns once it answers /login (two minutes at most)."""
    command = [str(Path(sys.executable).parent / "rostersync"), "serve", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    if profile is not None:
        command = [sys.executable, "-m", "bench.signin_serve_profiled", "--port", str(port),
                   "--out", str(profile)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rostersync serve exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError("rostersync serve did not answer within two minutes")


def stop_portal(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as an operator stops it; its workers end with it."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# The logins ------------------------------------------------------------------------------------
class LoginFailed(Exception):
    """A login that did not complete as a browser's would."""


async def login(
    client: httpx.AsyncClient, portal: str, district_id: str, person: Person
) -> tuple[float, str]:
    """One whole login; (seconds to the signed-in cookie, the home page's text)."""
    client.cookies.clear()  # a new person on this device: their own jar
    began = time.perf_counter()
    start = await client.get(f"{portal}/login/start", params={"district": district_id})
    if start.status_code != 303:
        raise LoginFailed(f"login/start answered {start.status_code}")
    authorize = start.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    picked = await client.post(
        authorize.split("?")[0], data={**query, "person": f"{person.tenant_id}:{person.sourced_id}"}
    )
    if picked.status_code != 302:
        raise LoginFailed(f"the simulator's authorize answered {picked.status_code}")
    done = await client.get(picked.headers["location"])
    if done.status_code != 303 or done.headers.get("location") != "/":
        reference = done.text.split("Reference: <code>")[-1].split("<")[0][:60]
        raise LoginFailed(f"the callback answered {done.status_code} ({reference})")
    if not client.cookies.get("rostersync_session"):
        raise LoginFailed("no session cookie after the callback")
    elapsed = time.perf_counter() - began
    home = await client.get(f"{portal}/")
    if home.status_code != 200:
        raise LoginFailed(f"the home page answered {home.status_code}")
    return elapsed, home.text


@dataclass(slots=True)
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wrong: int = 0
    problems: list[str] = field(default_factory=list)


async def drive(
    portal: str,
    district_ids: dict[str, str],
    people: Sequence[Person],
    concurrency: int,
    tally: _Tally,
) -> None:
    """Log everyone in `people` in, `concurrency` browsers at a time."""
    queue: asyncio.Queue[Person] = asyncio.Queue()
    for person in people:
        queue.put_nowait(person)
    # Idle connections are dropped before uvicorn closes them (its keep-alive is 5 s).
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=2)

    async def browser() -> None:
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            while not queue.empty():
                person = queue.get_nowait()
                try:
                    elapsed, page = await login(
                        client, portal, district_ids[person.district_slug], person
                    )
                except (httpx.HTTPError, LoginFailed, KeyError) as exc:
                    tally.errors += 1
                    where = ""
                    if isinstance(exc, httpx.RequestError):  # which server, which step
                        where = f" at {exc.request.method} {exc.request.url.copy_with(query=None)}"
                    tally.problems.append(
                        f"{person.district_slug}: {type(exc).__name__} {exc}{where}"
                    )
                    continue
                tally.latencies.append(elapsed)
                # The page escapes HTML as Jinja does ("O'Brien" is "O&#39;Brien" there).
                shown = (str(escape(person.display_name)), str(escape(person.district_name)))
                if not all(text in page for text in shown):
                    tally.wrong += 1
                    tally.problems.append(f"{person.district_slug}: page does not name them")

    await asyncio.gather(*(browser() for _ in range(concurrency)))


def unambiguous(people: Sequence[Person]) -> list[Person]:
    """People whose name no one else in their district has: a page naming them is theirs."""
    names = Counter((p.district_slug, p.display_name) for p in people)
    return [p for p in people if names[(p.district_slug, p.display_name)] == 1]


def run_round(
    *,
    database_url: str,
    data_dir: Path,
    keys: str,
    people: Sequence[Person],
    district_ids: dict[str, str],
    workers: int,
    logins: int,
    concurrency: int,
    warmup: int,
    students: int,
    districts: int,
    redis_url: str,
    rotations: int,
    profile: Path | None = None,
) -> RoundReport:
    """Start the simulator and `rostersync serve --workers N`, log people in, stop both."""
    port, secret = free_port(), secrets.token_urlsafe(24)
    portal = f"http://127.0.0.1:{port}"
    sso = Simulator(students, districts, secret, f"{portal}/oauth/callback")
    env = portal_environment(database_url, data_dir, keys, sso.url, secret, port, redis_url)
    log_path = data_dir / f"serve-{workers}.log"
    with log_path.open("w") as log:
        server = start_portal(env, port, workers, log, profile)
        try:
            warm = _Tally()  # every worker fetches discovery and JWKS, fills its pools
            asyncio.run(drive(portal, district_ids, people[-warmup:], concurrency, warm))
            chosen = [people[i % len(people)] for i in range(logins)]
            size = -(-logins // (rotations + 1))
            tally = _Tally()
            pids = process_tree(server.pid)
            jwks_before = sso.jwks_requests()
            load_start = os.getloadavg()[0]
            portal_before = cpu_seconds(pids)
            sso_before = cpu_seconds([sso.process.pid])
            own_before = time.process_time()
            began = time.perf_counter()
            for number, start in enumerate(range(0, logins, size)):
                if number:
                    sso.rotate()
                asyncio.run(
                    drive(portal, district_ids, chosen[start : start + size], concurrency, tally)
                )
            seconds = time.perf_counter() - began
            portal_cpu = cpu_seconds(pids) - portal_before
            sso_cpu = cpu_seconds([sso.process.pid]) - sso_before
            own_cpu = time.process_time() - own_before
            jwks = sso.jwks_requests() - jwks_before
            load_end = os.getloadavg()[0]
        finally:
            stop_portal(server)
            sso.stop()
    ordered = sorted(tally.latencies) or [0.0]
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    per_login = 1000 / max(1, logins)
    portal_ms = portal_cpu * per_login
    return RoundReport(
        workers=workers,
        logins=logins,
        concurrency=concurrency,
        seconds=round(seconds, 3),
        logins_per_second=round(logins / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p95_ms=round(p95 * 1000, 1),
        max_ms=round(ordered[-1] * 1000, 1),
        errors=tally.errors + warm.errors,
        wrong_account=tally.wrong + warm.wrong,
        portal_cpu_ms_per_login=round(portal_ms, 2),
        sso_cpu_ms_per_login=round(sso_cpu * per_login, 2),
        driver_cpu_ms_per_login=round(own_cpu * per_login, 2),
        two_core_ceiling_logins_per_second=round(2000 / portal_ms, 1) if portal_ms else 0.0,
        jwks_fetches=jwks,
        rotations=rotations,
        load_average=(round(load_start, 1), round(load_end, 1)),
        problems=(warm.problems + tally.problems)[:20],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.signin_processes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--logins", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64, help="browsers at once")
    parser.add_argument("--warmup", type=int, default=200, help="untimed logins first")
    parser.add_argument("--students", type=int, default=800, help="per district")
    parser.add_argument("--districts", type=int, default=2)
    parser.add_argument("--rotations", type=int, default=1)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="rate-limit storage")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=None,
        help="a PostgreSQL schema of its own, dropped after; default: SQLite",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON")
    parser.add_argument(
        "--profile",
        metavar="PATH",
        type=Path,
        default=None,
        help="profile the portal (one process, every thread) into this pstats file",
    )
    args = parser.parse_args(argv)
    if args.profile is not None and args.workers != [1]:
        parser.error("--profile profiles one portal process: use it with --workers 1")
    from rostersync.logs import configure_logging

    configure_logging(Settings(log_format="console", log_level="WARNING"))
    reports: list[RoundReport] = []
    with (
        tempfile.TemporaryDirectory(prefix="rs-signin-") as tmp,
        _database(Path(tmp), args.postgres) as url,
    ):
        keys = Fernet.generate_key().decode()
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            secret_keys=keys,
            log_format="json",
            log_level="WARNING",
        )
        with Sandbox(settings, sandbox_districts(args.students, args.districts)) as sandbox:
            people = unambiguous(people_of(sandbox))
            district_ids = dict(sandbox.district_ids)
        for workers in args.workers:
            report = run_round(
                database_url=url,
                data_dir=Path(tmp),
                keys=keys,
                people=people,
                district_ids=district_ids,
                workers=workers,
                logins=args.logins,
                concurrency=args.concurrency,
                warmup=min(args.warmup, len(people)),
                students=args.students,
                districts=args.districts,
                redis_url=args.redis,
                rotations=args.rotations,
                profile=args.profile,
            )
            reports.append(report)
            print(json.dumps(asdict(report)), flush=True)
    backend = "postgresql" if args.postgres else "sqlite"
    figures = {"backend": backend, "cpus": os.cpu_count(), "rounds": [asdict(r) for r in reports]}
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\n{backend}, {os.cpu_count()} CPUs")
    print("workers  logins/s  p50 ms  p95 ms  portal CPU ms/login  (2-core ceiling)  wrong  errors")
    for r in reports:
        print(
            f"{r.workers:>7}  {r.logins_per_second:>8}  {r.p50_ms:>6}  {r.p95_ms:>6}  "
            f"{r.portal_cpu_ms_per_login:>19}  {r.two_core_ceiling_logins_per_second:>16}  "
            f"{r.wrong_account:>5}  {r.errors:>6}"
        )
    bad = any(
        r.errors or r.wrong_account or r.jwks_fetches > r.workers * (r.rotations + 1)
        for r in reports
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["RoundReport", "cpu_seconds", "main", "process_tree", "run_round", "unambiguous"]
