"""Sign-in under load, on loopback: logins per second and p95 latency, with a key rotation.

    .venv/bin/python -m bench.sign_in_load                          # 2,000 logins, 16 threads
    .venv/bin/python -m bench.sign_in_load --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

The sandbox (`rostersync.demo.sandbox`) runs the ClassLink SSO simulator and the portal on
loopback, with districts generated, synced and live. Each worker thread is one browser with its own
cookie jar and follows the real redirects: the portal's /login/start, the simulator's authorize
form (POSTed as the person), the callback to the portal, then the home page. Halfway through, the
simulator rotates its signing key.

Every login is checked, not just timed: the session must belong to exactly the person who logged
in, in their district (read back from the session table), and the home page must show their name
and district. Reported: logins/s over the whole run (wall clock), p50/p95/max latency of one login
(start to signed-in cookie), errors, wrong-account sign-ins, and how many times the portal fetched
the JWKS (at the simulator) against the rotations (one initial fetch, then at most one per
rotation). `tests/integration/web/test_sign_in_load.py` runs the same at a small N on both
databases and asserts the correctness figures; the timings are only reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from markupsafe import escape

from rostersync.config import Settings
from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district
from rostersync.store import web as store_web
from rostersync.store.tables import educators, students


@dataclass(frozen=True, slots=True)
class Person:
    """Someone to log in as: their district, ClassLink identity and the name the page shows."""

    district_slug: str
    district_name: str
    tenant_id: str
    sourced_id: str
    display_name: str


@dataclass(slots=True)
class LoadReport:
    """What one load run measured and found."""

    logins: int
    threads: int
    districts: int
    seconds: float
    logins_per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    errors: int
    wrong_account: int
    rotations: int
    jwks_fetches: int
    distinct_people: int
    problems: list[str] = field(default_factory=list)


def sandbox_districts(students_per_district: int, districts: int = 2) -> list[SandboxDistrict]:
    """Generated districts to load: distinct tenants, seeds and names."""
    names = ["Springfield", "Shelbyville", "Ogdenville", "North Haverbrook"]
    return [
        SandboxDistrict(
            slug=names[i].lower().replace(" ", "-"),
            tenant_id=str(2001 + i),
            display_name=f"{names[i]} SD – {names[i]}, IL",
            data=generate_district(
                students=students_per_district, seed=10 + i, tenant=names[i].lower()
            ),
        )
        for i in range(districts)
    ]


def people_of(sandbox: Sandbox) -> list[Person]:
    """Everyone the simulator lets sign in, interleaved across districts."""
    per_district = []
    for district in sandbox.districts:
        per_district.append(
            [
                Person(
                    district.slug,
                    district.display_name,
                    district.tenant_id,
                    p.sourced_id,
                    p.display_name,
                )
                for p in sandbox.sso.people(district.tenant_id)
            ]
        )
    mixed: list[Person] = []
    for i in range(max(len(p) for p in per_district)):
        mixed.extend(group[i] for group in per_district if i < len(group))
    return mixed


class _Checker:
    """Reads a session back from the database: whose is it, in which district?"""

    def __init__(self, sandbox: Sandbox) -> None:
        assert sandbox.service is not None
        self.engine = sandbox.service.engine
        self.district_ids = sandbox.district_ids

    def owner(self, token: str) -> tuple[str, str] | None:
        """(district slug, sourcedId) of the person a session token belongs to."""
        from datetime import UTC, datetime

        with self.engine.connect() as conn:
            session = store_web.get_session(conn, token, now=datetime.now(UTC))
            if session is None:
                return None
            table = students if session.person_kind == "student" else educators
            row = conn.execute(
                table.select()
                .with_only_columns(table.c.sourced_id, table.c.district_id)
                .where(table.c.id == session.person_id)
            ).first()
        if row is None:
            return None
        slugs = {v: k for k, v in self.district_ids.items()}
        return slugs.get(row.district_id, "?"), str(row.sourced_id)


def _login(client: httpx.Client, sandbox: Sandbox, person: Person) -> str:
    """One whole login in one browser; returns the session cookie. Raises on any deviation."""
    start = client.get(
        "/login/start", params={"district": sandbox.district_ids[person.district_slug]}
    )
    if start.status_code != 303:
        raise RuntimeError(f"login/start answered {start.status_code}")
    authorize = start.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    picked = client.post(
        authorize.split("?")[0], data={**query, "person": f"{person.tenant_id}:{person.sourced_id}"}
    )
    if picked.status_code != 302:
        raise RuntimeError(f"the simulator's authorize answered {picked.status_code}")
    done = client.get(picked.headers["location"])
    if done.status_code != 303 or done.headers.get("location") != "/":
        reference = done.text.split("Reference: <code>")[-1].split("<")[0][:60]
        raise RuntimeError(f"the callback answered {done.status_code} ({reference})")
    token = client.cookies.get("rostersync_session")
    if not token:
        raise RuntimeError("no session cookie after the callback")
    return token


def run_load(
    sandbox: Sandbox,
    people: Sequence[Person],
    *,
    logins: int,
    threads: int,
    rotations: int = 1,
) -> LoadReport:
    """Log `logins` people in on `threads` browsers, rotating the signing key `rotations` times
    at even intervals; every worker is paused at each rotation so that no login straddles it
    (the simulator drops the old key from its JWKS at once, as a hard rotation does)."""
    sandbox.fresh_relying_party()  # an empty key cache: the first login fetches the JWKS
    checker = _Checker(sandbox)
    jwks_before = sandbox.sso.jwks_requests
    latencies: list[float] = []
    problems: list[str] = []
    wrong = errors = 0
    lock = threading.Lock()
    local = threading.local()
    clients: list[httpx.Client] = []

    def browser() -> httpx.Client:
        client = getattr(local, "client", None)
        if client is None:
            client = httpx.Client(base_url=sandbox.url, timeout=30)
            local.client = client
            with lock:
                clients.append(client)
        return client

    def one(person: Person) -> None:
        nonlocal wrong, errors
        client = browser()
        client.cookies.clear()  # a new person on this device: their own jar
        began = time.perf_counter()
        try:
            token = _login(client, sandbox, person)
            elapsed = time.perf_counter() - began
            home = client.get("/")
            owner = checker.owner(token)
        except (httpx.HTTPError, RuntimeError) as exc:
            with lock:
                errors += 1
                problems.append(f"{person.district_slug}: {exc}")
            return
        # The page escapes HTML as Jinja does ("O'Brien" is "O&#39;Brien" there).
        shown = [str(escape(person.display_name)), str(escape(person.district_name))]
        if owner != (person.district_slug, person.sourced_id):
            problem = f"session of {owner}, not of {person.sourced_id}"
        elif home.status_code != 200 or not all(text in home.text for text in shown):
            problem = f"home page {home.status_code} does not show {person.sourced_id}"
        else:
            problem = ""
        with lock:
            latencies.append(elapsed)
            if problem:
                wrong += 1
                problems.append(f"{person.district_slug}: {problem}")

    size = -(-logins // (rotations + 1))  # ceiling division: rotations + 1 equal phases
    chunks = [
        [people[i % len(people)] for i in range(start, min(start + size, logins))]
        for start in range(0, logins, size)
    ]
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="login") as pool:
        for number, chunk in enumerate(chunks):
            if number:
                sandbox.sso.rotate_keys()
            list(pool.map(one, chunk))
    seconds = time.perf_counter() - began
    for client in clients:
        client.close()
    ordered = sorted(latencies) or [0.0]
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    return LoadReport(
        logins=logins,
        threads=threads,
        districts=len({p.district_slug for p in people}),
        seconds=round(seconds, 3),
        logins_per_second=round(logins / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p95_ms=round(p95 * 1000, 1),
        max_ms=round(ordered[-1] * 1000, 1),
        errors=errors,
        wrong_account=wrong,
        rotations=len(chunks) - 1,
        jwks_fetches=sandbox.sso.jwks_requests - jwks_before,
        distinct_people=len({(p.tenant_id, p.sourced_id) for p in people[:logins]}),
        problems=problems[:20],
    )


@contextmanager
def _database(directory: Path, postgres_url: str | None) -> Iterator[str]:
    """A SQLite file, or a PostgreSQL schema of its own that is dropped at the end."""
    if postgres_url is None:
        yield f"sqlite:///{directory / 'portal.db'}"
        return
    from sqlalchemy import text

    from rostersync.store.db import create_engine_for

    schema = f"rs_load_{secrets.token_hex(6)}"
    admin = create_engine_for(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def load_sandbox(
    directory: Path, *, postgres_url: str | None, students: int, districts: int
) -> Iterator[Sandbox]:
    """The sandbox a load run needs: generated districts, synced and live."""
    with _database(directory, postgres_url) as url:
        settings = Settings(
            data_dir=directory,
            database_url=url,
            secret_keys=Fernet.generate_key().decode(),
            log_format="json",
            log_level="WARNING",
        )
        with Sandbox(settings, sandbox_districts(students, districts)) as sandbox:
            yield sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sign_in_load", description=__doc__)
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--students", type=int, default=400, help="per district")
    parser.add_argument("--districts", type=int, default=2)
    parser.add_argument("--rotations", type=int, default=1)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=None,
        help="run on PostgreSQL (a schema of its own, dropped after); default: a SQLite file",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON")
    args = parser.parse_args(argv)
    from rostersync.logs import configure_logging

    # Only warnings: a line per login would drown the report (and slow the run).
    configure_logging(Settings(log_format="console", log_level="WARNING"))
    with (
        tempfile.TemporaryDirectory(prefix="rs-load-") as tmp,
        load_sandbox(
            Path(tmp),
            postgres_url=args.postgres,
            students=args.students,
            districts=args.districts,
        ) as sandbox,
    ):
        report = run_load(
            sandbox,
            people_of(sandbox),
            logins=args.logins,
            threads=args.threads,
            rotations=args.rotations,
        )
    figures = {**asdict(report), "backend": "postgresql" if args.postgres else "sqlite"}
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    ok = report.errors == 0 and report.wrong_account == 0
    return 0 if ok and report.jwks_fetches <= 1 + report.rotations else 1


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["LoadReport", "Person", "load_sandbox", "main", "people_of", "run_load"]
