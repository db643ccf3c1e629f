"""Sync benchmark with its lower bounds, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.sync_bench                      # 10,000 students, both backends
    .venv/bin/python -m bench.sync_bench --students 100000
    .venv/bin/python -m bench.sync_bench --students 1000000   # needs ~9 GB for the generator today

The parent process generates a district with the simulator's generator and serves it over loopback
with `SimulatorServer`. Every measurement runs in a fresh child process (`worker`), so its peak
memory is that child's own `resource.getrusage(RUSAGE_SELF).ru_maxrss` and owes nothing to the
generated data held by the parent. Measured, per backend:

- first_sync: `RosterSync.run_sync` into an empty database;
- noop_resync: the same again, nothing changed;
- delta_1pct: after 1% of students change family name;
- read_parse (lower bound): fetch and JSON-parse the same collections over the same server and
  page size, and map them to records — no validation, planning or writing;
- bulk_load (lower bound): insert the rows the first sync writes (roster rows, audit rows,
  eligibility) into empty tables: DB-API `executemany` on SQLite, `COPY` on PostgreSQL. Building
  the rows is not timed; only loading them.

Ratios: first_sync / (read_parse + bulk_load), noop_resync / read_parse, delta_1pct / read_parse.
Results go to `bench/results/<timestamp>.json` (git-ignored) and a Markdown table to stdout.
PostgreSQL work happens in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import markdown, ratios

KEY, SECRET = "bench-key", "bench-secret"
SLUG = "springfield"
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# Parent ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="internal: one measurement in a child process")
    worker.add_argument("task", choices=["sync", "read", "load"])
    worker.add_argument("--db-url", required=True)
    worker.add_argument("--source-url", required=True)
    worker.add_argument("--secret-keys", required=True)
    worker.add_argument("--page-size", type=int, required=True)
    worker.add_argument("--out", required=True)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    args = parser.parse_args(argv)
    if args.command == "worker":
        _worker(args)
        return 0
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    from rostersync.simulator import SimulatorServer, Tenant, generate_district

    started = time.monotonic()
    data = generate_district(students=args.students, seed=args.seed)
    print(f"generated {args.students:,} students in {time.monotonic() - started:.1f}s", flush=True)
    keys = Fernet.generate_key().decode()
    results: dict[str, Any] = {
        "students": args.students,
        "seed": args.seed,
        "page_size": args.page_size,
        "counts": data.counts(),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "peak_memory_method": "ru_maxrss of a fresh child process per measurement",
        "backends": {},
    }
    pristine = {id(u): dict(u) for u in data.users if u["role"] == "student"}
    with tempfile.TemporaryDirectory(prefix="rs-bench-") as tmp:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            _restore(data, pristine)
            tenant = Tenant(name=SLUG, data=data, key=KEY, secret=SECRET)
            with SimulatorServer([tenant]) as server, _Databases(backend, tmp, args) as dbs:
                results["backends"][backend] = _measure_backend(
                    backend, server.base_url(SLUG), tenant, dbs, keys, args
                )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    print()
    print(markdown(results))
    print(f"\nresults: {path}")
    return 0


def _measure_backend(
    backend: str, source_url: str, tenant: Any, dbs: _Databases, keys: str, args: Any
) -> dict[str, Any]:
    sync_url = dbs.new()
    _onboard(sync_url, source_url, keys)
    timings: dict[str, float] = {}
    rss: dict[str, float] = {}
    details: dict[str, Any] = {}

    def measure(figure: str, task: str, url: str) -> None:
        out = _child(task, url, source_url, keys, args.page_size)
        timings[figure], rss[figure] = out["seconds"], out["max_rss_kb"] / 1024
        details[figure] = out.get("detail", {})
        line = f"{backend:>10} {figure:<12} {out['seconds']:8.2f}s  {rss[figure]:7.0f} MB"
        print(line, flush=True)

    measure("first_sync", "sync", sync_url)
    measure("noop_resync", "sync", sync_url)
    _mutate_one_percent(tenant)
    measure("delta_1pct", "sync", sync_url)
    measure("read_parse", "read", sync_url)
    load_url = dbs.new()
    _onboard(load_url, source_url, keys)
    measure("bulk_load", "load", load_url)
    return {"timings": timings, "peak_rss_mb": rss, "ratios": ratios(timings), "detail": details}


def _onboard(db_url: str, source_url: str, keys: str) -> None:
    from rostersync.config import Settings
    from rostersync.service import DistrictSetup, RosterSync

    service = RosterSync(Settings(database_url=db_url, secret_keys=keys))
    try:
        service.init_db()
        service.add_district(
            DistrictSetup(
                slug=SLUG,
                name="Springfield Unified School District",
                display_name="Springfield USD – Springfield, IL",
                city="Springfield",
                state="IL",
                source_url=source_url,
                key=KEY,
                secret=SECRET,
                eligibility_source="metadata",
                eligibility_field="eligibility",
            )
        )
    finally:
        service.close()


def _child(task: str, db_url: str, source_url: str, keys: str, page_size: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "bench.sync_bench", "worker", task]
        command += ["--db-url", db_url, "--source-url", source_url, "--secret-keys", keys]
        command += ["--page-size", str(page_size), "--out", out.name]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
        return result


def _mutate_one_percent(tenant: Any) -> None:
    """Change the family name of every 100th student: 1% of students, spread over the district."""
    students = [u for u in tenant.data.users if u["role"] == "student"]
    for user in students[::100]:
        user["familyName"] = user["familyName"] + "-Delta"
        user["dateLastModified"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    tenant.invalidate()


def _restore(data: Any, pristine: dict[int, dict[str, Any]]) -> None:
    for user in data.users:
        if id(user) in pristine:
            user.update(pristine[id(user)])


class _Databases:
    """Empty databases for one backend: SQLite files, or PostgreSQL schemas dropped at the end."""

    def __init__(self, backend: str, tmp: str, args: Any) -> None:
        self.backend, self.tmp, self.pg_url = backend, tmp, args.postgres_url
        self.schemas: list[str] = []

    def __enter__(self) -> _Databases:
        return self

    def new(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp}/bench-{secrets.token_hex(4)}.db"
        from sqlalchemy import text

        from rostersync.store.db import create_engine_for

        schema = f"rs_bench_{secrets.token_hex(6)}"
        admin = create_engine_for(self.pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        self.schemas.append(schema)
        return f"{self.pg_url}?options=-csearch_path%3D{schema}"

    def __exit__(self, *exc: object) -> None:
        if not self.schemas:
            return
        from sqlalchemy import text

        from rostersync.store.db import create_engine_for

        admin = create_engine_for(self.pg_url)
        with admin.begin() as conn:
            for schema in self.schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# Child -----------------------------------------------------------------------------------------


def _worker(args: argparse.Namespace) -> None:
    import structlog

    # Quiet: per-page and summary log lines would go to stdout and add nothing to the figures.
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    task = {"sync": _task_sync, "read": _task_read, "load": _task_load}[args.task]
    seconds, detail = task(args)
    result = {
        "seconds": seconds,
        # Linux reports kilobytes.
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "detail": detail,
    }
    Path(args.out).write_text(json.dumps(result))


def _task_sync(args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    from rostersync.config import Settings
    from rostersync.service import RosterSync

    service = RosterSync(
        Settings(database_url=args.db_url, secret_keys=args.secret_keys, page_size=args.page_size)
    )
    try:
        started = time.perf_counter()
        report = service.run_sync(SLUG)
        seconds = time.perf_counter() - started
    finally:
        service.close()
    if report.status != "succeeded":
        raise SystemExit(f"sync {report.status}: {report.error}")
    return seconds, {"counts": report.counts, "requests": report.requests}


def _task_read(args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    from rostersync.oneroster.auth import OAuth1Auth
    from rostersync.oneroster.client import OneRosterClient
    from rostersync.oneroster.mapping import MAPPERS
    from rostersync.sync.sources import COLLECTIONS

    counts: dict[str, int] = {}
    started = time.perf_counter()
    with OneRosterClient(
        args.source_url, OAuth1Auth(KEY, SECRET), page_size=args.page_size
    ) as client:
        for collection, _kinds in COLLECTIONS:
            mapper = MAPPERS[collection]
            n = 0
            for raw in client.iter_collection(collection):
                mapper(raw)
                n += 1
            counts[collection] = n
    return time.perf_counter() - started, {"records": counts}


def _task_load(args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    """Build the rows a first sync writes (not timed), then time loading them into empty tables."""
    from rostersync.store.db import create_engine_for

    engine = create_engine_for(args.db_url)
    tables_rows = _rows_of_first_sync(engine, args)
    started = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            raw = conn.connection.dbapi_connection
            assert raw is not None
            with raw.cursor() as cursor:
                for table, rows in tables_rows:
                    _copy(cursor, table, rows)
        else:
            for table, rows in tables_rows:
                _executemany(conn, table, rows)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, {"rows": {t.name: len(r) for t, r in tables_rows}}


TableRows = list[tuple[Any, list[dict[str, Any]]]]


def _rows_of_first_sync(engine: Any, args: argparse.Namespace) -> TableRows:
    """The rows, per table in dependency order, that a first sync of this source writes.

    Uses the same domain steps and the store's own column mapping (`store.apply`), so the rows
    are the sync's rows, not an approximation.
    """
    from rostersync.domain.plan import plan_sync
    from rostersync.domain.records import EntityKind
    from rostersync.domain.validate import validate_roster
    from rostersync.store import apply as store_apply
    from rostersync.store import districts as store_districts
    from rostersync.store.tables import ROSTER_TABLES, audit_log, eligibility
    from rostersync.sync.pipeline import collect
    from rostersync.sync.sources import OneRosterRestSource

    source = OneRosterRestSource(args.source_url, KEY, SECRET, page_size=args.page_size)
    roster = collect(source)
    now = datetime.now(UTC)
    with engine.connect() as conn:
        district = store_districts.get_district(conn, SLUG)
        rules = store_districts.rules_for(store_districts.get_integration(conn, district.id))
        plan = plan_sync(
            validate_roster(roster, rules), {}, {}, rules, complete_kinds=set(EntityKind)
        )
        writer = store_apply._Writer(conn, district_id=district.id, plan=plan, now=now)
        out: TableRows = []
        audit: list[dict[str, Any]] = []
        for kind in EntityKind:
            creates = plan.entities[kind].creates
            writer.refs.prepare_for(kind, [w.record for w in creates])
            rows = [
                {
                    "id": w.id,
                    "district_id": district.id,
                    "sourced_id": w.record.sourced_id,
                    "content_hash": w.content_hash,
                    "active": True,
                    "deactivated_at": None,
                    "created_at": now,
                    "updated_at": now,
                    **writer._columns(w.record),
                }
                for w in creates
            ]
            out.append((ROSTER_TABLES[kind], rows))
            audit.extend(
                {
                    "district_id": district.id,
                    "run_id": None,
                    "actor": "bench",
                    "action": "create",
                    "entity_type": kind.value,
                    "entity_id": w.id,
                    "changes": None,
                    "at": now,
                }
                for w in creates
            )
        elig = [
            {
                "student_id": c.student_id,
                "district_id": district.id,
                "status": c.after.status.value,
                "category": c.after.category,
                "source": c.source,
                "changed_at": now,
                "changed_by": "bench",
            }
            for c in plan.eligibility
        ]
        out.append((eligibility, elig))
        out.append((audit_log, audit))
    return out


def _executemany(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """SQLite: one DB-API executemany per table, values already in SQLite's storage form."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    # Names come from the table metadata, values are bound: nothing here is user input.
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(sql, [tuple(_sqlite_value(r[c]) for c in columns) for r in rows])
    finally:
        cursor.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _copy(cursor: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: one COPY … FROM STDIN per table through psycopg's copy."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row[c]) if isinstance(row[c], list | dict) else row[c] for c in columns]
            )


if __name__ == "__main__":
    sys.exit(main())
