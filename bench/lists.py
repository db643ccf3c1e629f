"""Lists benchmark: the admin lists at scale, read through the real app over loopback HTTP.

    .venv/bin/python -m bench.lists                          # SQLite and PostgreSQL, 30 requests
    .venv/bin/python -m bench.lists --backends sqlite --requests 10 --students 20000
    make bench-lists LISTS_ARGS="--requests 50"

What it does, per database (SQLite in a temporary file; PostgreSQL in a fresh database on
`--postgres`'s server, dropped at the end):

1. onboards `--districts` districts (1,000) through the service, all live, each scheduled daily;
2. fills the first one, "Big Unified", straight into its tables (the benchmark measures reads,
   not the sync): `--students` students (100,000), an open issue for every `--issue-every`th of
   them (with the record's name, role, student ID, grade and school, as a sync stores them),
   `--runs` runs and `--audit` audit entries;
3. serves the portal (`web.app.create_app`) with uvicorn on loopback, signs in as vendor staff
   through the sign-in form, and times `--requests` GETs of each page after two unmeasured ones:
   the districts list's first page and its last (reached by following Next), the issues page's
   first page, its second (its Next link) and its last (its Last link), by problem and by name,
   one school's issues by name and the issues of a name searched, search by name and by student
   ID, the audit log's and the runs list's first and last pages, and the API's districts and
   issues lists.

Prints a table of p50/p95/max per page with whether p95 is under the target (`--target-ms`,
300 ms), and writes the figures as JSON to `bench/results/lists-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import platform
import re
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from bench.fleet import fresh_database
from rostersync.config import Settings
from rostersync.services import Questionnaire, Services
from rostersync.store.tables import (
    audit_log,
    districts,
    students,
    sync_runs,
    validation_issues,
)
from rostersync.web.app import create_app
from rostersync.web.server import PortalServer

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = secrets.token_urlsafe(16)  # the bench staff account's, for this run only
BIG = "big-unified"
BATCH = 5000
GIVEN = ["Ana", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon"]
FAMILY = ["García", "Nguyen", "Smith", "Müller", "Okafor", "Kowalski", "Haddad", "Lee"]
SCHOOLS = [f"School {i:02d}" for i in range(12)]
GRADES = ["KG", *(f"{g:02d}" for g in range(1, 13))]
PROBLEMS = [
    ("error", "missing_email", "email"),
    ("error", "duplicate_student_id", "studentId"),
    ("warning", "missing_grade", "grades"),
    ("warning", "name_mismatch", "givenName"),
]


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def onboard(portal: Services, count: int) -> str:
    """`count` live districts, scheduled daily; the big one's id."""
    big = ""
    for index in range(count):
        slug = BIG if index == 0 else f"district-{index:04d}"
        name = "Big Unified" if index == 0 else f"District {index:04d}"
        record = portal.districts.add(
            Questionnaire(
                slug=slug,
                name=name,
                display_name=f"{name} – Springfield, IL",
                city="Springfield",
                state="IL",
                source_url="https://classlink.example/oneroster",
                key=f"key-{index}",
                secret=f"secret-{index}",
                data_manager_emails=[f"dm@{slug}.example"],
                sync_frequency="daily",
                sync_time="02:00",
                time_zone="UTC",
            )
        )
        big = big or record.id
    with portal.engine.begin() as conn:
        conn.execute(update(districts).values(status="live"))
    return big


def fill(conn: Connection, district_id: str, args: argparse.Namespace) -> dict[str, int]:
    """The big district's students, open issues, runs and audit entries, inserted in bulk."""
    now = datetime.now(UTC)
    run_ids = [str(uuid.uuid4()) for _ in range(args.runs)]
    for batch in _batches(
        {
            "id": run_id,
            "district_id": district_id,
            "trigger": "schedule",
            "mode": "apply",
            "status": "succeeded" if i % 7 else "failed",
            "started_at": now - timedelta(hours=6 * i),
            "finished_at": now - timedelta(hours=6 * i) + timedelta(seconds=40),
            "counts": {"issues": {"errors": 3, "warnings": 1}},
            "error": None,
        }
        for i, run_id in enumerate(run_ids)
    ):
        conn.execute(insert(sync_runs), batch)

    def person(i: int) -> tuple[str, str, str]:
        given, family = GIVEN[i % len(GIVEN)], FAMILY[(i // len(GIVEN)) % len(FAMILY)]
        return given, f"{family}{i // 80:04d}", f"S{i:07d}"

    for batch in _batches(
        {
            "id": str(uuid.uuid4()),
            "district_id": district_id,
            "sourced_id": f"stu-{i:07d}",
            "content_hash": "0" * 32,
            "created_at": now,
            "updated_at": now,
            "student_id": person(i)[2],
            "grade": GRADES[i % len(GRADES)],
            "username": f"u{i:07d}",
            "given_name": person(i)[0],
            "family_name": person(i)[1],
            "email": f"u{i:07d}@big.example",
            "school_sourced_ids": [f"sch-{i % len(SCHOOLS)}"],
        }
        for i in range(args.students)
    ):
        conn.execute(insert(students), batch)
    issues = range(0, args.students, args.issue_every)
    for batch in _batches(
        {
            "id": str(uuid.uuid4()),
            "run_id": run_ids[0],
            "district_id": district_id,
            "entity": "student",
            "sourced_id": f"stu-{i:07d}",
            "field": PROBLEMS[i % len(PROBLEMS)][2],
            "code": PROBLEMS[i % len(PROBLEMS)][1],
            "severity": PROBLEMS[i % len(PROBLEMS)][0],
            "message": "The record has a problem the district fixes at its source.",
            "fix": "Fix it in the SIS.",
            "status": "open",
            "created_at": now,
            "subject_name": " ".join(person(i)[:2]),
            "subject_role": "student",
            "subject_student_id": person(i)[2],
            "subject_grade": GRADES[i % len(GRADES)],
            "subject_school": SCHOOLS[i % len(SCHOOLS)],
        }
        for i in issues
    ):
        conn.execute(insert(validation_issues), batch)
    for batch in _batches(
        {
            "district_id": district_id,
            "run_id": None,
            "actor": "scheduler",
            "action": "update",
            "entity_type": "student",
            "entity_id": f"stu-{i % max(1, args.students):07d}",
            "changes": {"fields": ["grade"]},
            "at": now - timedelta(seconds=30 * i),
        }
        for i in range(args.audit)
    ):
        conn.execute(insert(audit_log), batch)
    return {
        "students": args.students,
        "issues": len(issues),
        "runs": args.runs,
        "audit": args.audit,
    }


def _last_page(client: httpx.Client, url: str) -> tuple[str, int]:
    """The URL of a keyset list's last page, by following its Next links; and how many pages."""
    pages = 1
    while True:
        found = re.search(r'<a href="([^"]+)" rel="next">', client.get(url).text)
        if not found:
            return url, pages
        url, pages = html.unescape(found.group(1)), pages + 1


def _link(page: str, marker: str) -> str:
    """The URL of the page's link whose tag holds `marker` (`rel="next"`, or `>Last<`)."""
    found = re.search(rf'<a href="([^"]+)"[^>]*{marker}', page)
    if not found:
        raise RuntimeError(f"no link {marker} on the page")
    return html.unescape(found.group(1))


def _timed(client: httpx.Client, url: str, requests: int) -> list[float]:
    for _ in range(2):  # unmeasured: templates compiled, caches warm
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return times


def measure(portal: Services, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every page's timings over loopback HTTP, signed in as vendor staff."""
    portal.staff.add_staff(
        email="bench@portal.example",
        display_name="Bench Staff",
        role="vendor_staff",
        password=PASSWORD,
        district=None,
    )
    results: list[dict[str, Any]] = []
    with (
        PortalServer() as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        server.start(create_app(portal))
        login = client.get("/staff/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', login)
        assert csrf, "no CSRF token on the sign-in form"
        signed = client.post(
            "/staff/login",
            data={
                "email": "bench@portal.example",
                "password": PASSWORD,
                "csrf": csrf.group(1),
                "next": "/admin/districts",
            },
        )
        assert signed.status_code == 303, signed.text
        big = f"/admin/districts/{BIG}"
        districts_last, district_pages = _last_page(client, "/admin/districts")
        runs_last, run_pages = _last_page(client, f"{big}/runs")
        audit_last, audit_pages = _last_page(client, f"{big}/audit")
        issues = len(range(0, args.students, args.issue_every))
        issue_pages = max(1, math.ceil(issues / 50))
        first_issues = client.get(f"{big}/issues").text
        by_name = client.get(f"{big}/issues?sort=name").text
        cases: list[tuple[str, str]] = [
            ("districts, first page", "/admin/districts"),
            (f"districts, last page ({district_pages})", districts_last),
            ("issues, first page", f"{big}/issues"),
            ("issues, second page (Next)", _link(first_issues, 'rel="next"')),
            (f"issues, last page ({issue_pages}, Last)", _link(first_issues, ">Last<")),
            ("issues by name, last page (Last)", _link(by_name, ">Last<")),
            ("issues of one school, by name", f"{big}/issues?school=School+03&sort=name"),
            ("issues of a name searched", f"{big}/issues?sourced_id=okafor0100"),
            ("search by name", f"{big}/search?q=Emma+Okafor"),
            ("search by student ID", f"{big}/search?q=S{args.students // 2:07d}"),
            ("audit, first page", f"{big}/audit"),
            (f"audit, last page ({audit_pages})", audit_last),
            ("runs, first page", f"{big}/runs"),
            (f"runs, last page ({run_pages})", runs_last),
            ("API districts, first 100", "/api/v1/districts"),
            ("API issues, first 500", f"/api/v1/districts/{BIG}/issues"),
        ]
        for name, url in cases:
            times = _timed(client, url, args.requests)
            ordered = sorted(times)
            p95 = ordered[max(0, -(-95 * len(ordered) // 100) - 1)]
            results.append(
                {
                    "page": name,
                    "url": url if "cursor=" not in url else url.split("cursor=")[0] + "cursor=…",
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(p95, 1),
                    "max_ms": round(max(times), 1),
                    "met": p95 < args.target_ms,
                }
            )
            print(f"  {name}: p95 {p95:.0f} ms", flush=True)
    return results


@contextmanager
def database(backend: str, args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'lists.db'}"
    else:
        with fresh_database(args.postgres) as url:
            yield url


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-lists-") as tmp,
        database(backend, args, Path(tmp)) as url,
    ):
        settings = Settings(
            database_url=url,
            secret_keys=Fernet.generate_key().decode(),
            data_dir=str(Path(tmp) / "data"),
            mail_backend="outbox",
            outbox_dir=str(Path(tmp) / "outbox"),
            log_level="WARNING",
            stale_after_days=36500,
            # Plain http on loopback: a Secure cookie would not come back.
            session_cookie_secure=False,
        )
        portal = Services(settings)
        try:
            portal.init_db()
            began = time.monotonic()
            big = onboard(portal, args.districts)
            with portal.engine.begin() as conn:
                sizes = fill(conn, big, args)
            if backend == "postgresql":
                # What autovacuum does after a bulk load: planner statistics, and the visibility
                # map that lets an index-only scan skip the table. Outside a transaction (an
                # ANALYZE inside one that is rolled back leaves no statistics).
                auto = portal.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                with auto as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE")
            built = time.monotonic() - began
            print(f"{backend}: built in {built:.0f} s: {sizes}", flush=True)
            return {
                "backend": backend,
                "build_seconds": round(built, 1),
                **sizes,
                "pages": measure(portal, args),
            }
        finally:
            portal.close()


def table(results: list[dict[str, Any]], target: float) -> str:
    """The figures as a Markdown table, a column per backend."""
    backends = [r["backend"] for r in results]
    head = "| page | " + " | ".join(f"{b} p50 / p95 (ms)" for b in backends) + " | target met |"
    lines = [head, "|" + " --- |" * (len(backends) + 2)]
    for i, page in enumerate(results[0]["pages"]):
        cells = [f"{r['pages'][i]['p50_ms']:.0f} / {r['pages'][i]['p95_ms']:.0f}" for r in results]
        met = all(r["pages"][i]["met"] for r in results)
        lines.append(f"| {page['page']} | " + " | ".join(cells) + f" | {'yes' if met else 'NO'} |")
    lines.append(f"\nTarget: p95 under {target:.0f} ms on every page.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lists", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES))
    parser.add_argument("--districts", type=int, default=1000)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--issue-every", type=int, default=4, help="an open issue per N students")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--audit", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--target-ms", type=float, default=300.0)
    args = parser.parse_args(argv)
    results = [run_backend(b.strip(), args) for b in args.backends.split(",") if b.strip()]
    report = table(results, args.target_ms)
    print(report)
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"lists-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "load_average": os.getloadavg(),
                "args": vars(args),
                "results": results,
            },
            indent=2,
        )
    )
    print(f"figures: {path}")
    met = all(p["met"] for r in results for p in r["pages"])
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
