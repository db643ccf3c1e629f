"""Sync benchmark with its lower bounds, on SQLite and PostgreSQL, up to 1,000,000 students.

    .venv/bin/python -m bench.sync_bench                      # 10,000 students, both backends
    .venv/bin/python -m bench.sync_bench --students 100000
    .venv/bin/python -m bench.sync_bench --students 1000000 --bundles var/bench

The district comes from the streaming generator (`StreamingDistrict`), written as two OneRoster
1.1 CSV bundles by `bench.generate_bundle` in bounded memory: the district, and the same district
with every 100th student's family name changed (the 1% delta). `--bundles DIR` keeps them there and
reuses them on the next run (a million students take about two minutes per bundle to write).

Every measurement runs in a fresh child process (`worker`), so its peak memory owes nothing to the
parent: the child's own `resource.getrusage(RUSAGE_SELF).ru_maxrss`, plus the peak of the helper
process a big bundle's enrollments are read by (`RUSAGE_CHILDREN`; the two run at the same time,
so their sum is an upper bound on what they held together). Measured, per backend:

- first_sync: `Services.runs.sync` from the bundle (`BundleSource`) into an empty database;
- noop_resync: the same again, nothing changed;
- delta_1pct: from the second bundle, in which 1% of students changed family name;
- read_parse (lower bound): stream the same bundle, parse its CSV and map every row to a domain
  record — no validation, planning or writing;
- bulk_load (lower bound): insert the rows the first sync writes (roster rows, audit rows,
  eligibility) into empty tables: DB-API `executemany` on SQLite, `COPY` on PostgreSQL. Building
  the rows is not timed (they are built and loaded in chunks so the child stays small); only
  loading them.

Ratios: first_sync / (read_parse + bulk_load), noop_resync / read_parse, delta_1pct / read_parse.
Each figure's `detail` also records the child's own CPU seconds over the timed part
(`time.process_time`): on a shared machine wall seconds swing with other work, CPU seconds much
less (though they leave out the PostgreSQL server's share). The helper's CPU seconds are recorded
apart (`helper_cpu_seconds`): a sync may use both cores, the read_parse bound uses one.
Results go to `bench/results/<timestamp>.json` (git-ignored) and a Markdown table to stdout.
PostgreSQL work happens in a schema of its own, dropped at the end.

Beside these bounds, the physical ones of `bench.physical`, measured in the same run on the same
bundle and written without any of the sync's code: `parse` (the C csv reader, nothing mapped),
`parse_hash` (plus a content hash per row), `load` (those rows bulk-loaded into a scratch table,
keys built after) and `rest_decode_hash` (the same district's records decoded from OneRoster JSON
pages and hashed). Ratios against them: first_sync / (parse_hash + load), noop_resync / parse_hash,
and delta_1pct / noop_resync, each with the issue's target marked met or not met.
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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import physical, rest_bench
from bench.report import markdown, physical_ratios, ratios, rest_figures
from bench.springfield import SLUG, onboard

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# The district's configured source is never contacted: every run is given the bundle source.
UNUSED_SOURCE_URL = "https://bench.invalid/ims/oneroster/v1p1"
# Every 100th student is renamed in the delta bundle: 1% of students.
RENAMED_EVERY = 100
# Rows built and loaded at a time by the bulk-load lower bound.
LOAD_CHUNK = 50_000
# The REST path: pages fetched at once (the source's default), and the latency of the issue's
# target, held back on every answer by a second simulator.
REST_CONCURRENCY = 4
REST_LATENCY = 0.05


# Parent ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="internal: one measurement in a child process")
    worker.add_argument("task", choices=["sync", "read", "load"])
    worker.add_argument("--db-url", required=True)
    worker.add_argument("--bundle", required=True)
    worker.add_argument("--secret-keys", required=True)
    worker.add_argument("--out", required=True)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument(
        "--bundles", type=Path, help="keep the generated bundles here and reuse them"
    )
    parser.add_argument(
        "--no-rest", dest="rest", action="store_false", help="measure the bundle path only"
    )
    args = parser.parse_args(argv)
    if args.command == "worker":
        _worker(args)
        return 0
    return _run(args)


def bundle_paths(directory: Path, students: int, seed: int) -> tuple[Path, Path]:
    """Where the district's bundle and its 1%-renamed twin live, named by size and seed."""
    stem = f"district-{students}-s{seed}"
    return directory / f"{stem}.zip", directory / f"{stem}-renamed{RENAMED_EVERY}.zip"


def _generate(path: Path, students: int, seed: int, renamed_every: int) -> subprocess.Popen[bytes]:
    # Written under a temporary name: an interrupted run never leaves a truncated bundle behind.
    command = [sys.executable, "-m", "bench.generate_bundle", "--students", str(students)]
    command += ["--seed", str(seed), "--renamed-every", str(renamed_every)]
    command += ["--out", str(path.with_suffix(".partial"))]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)


def _ensure_bundles(directory: Path, students: int, seed: int) -> tuple[Path, Path]:
    base, renamed = bundle_paths(directory, students, seed)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    jobs = [
        (path, _generate(path, students, seed, every))
        for path, every in ((base, 0), (renamed, RENAMED_EVERY))
        if not path.exists()
    ]
    for path, job in jobs:
        if job.wait() != 0:
            raise SystemExit(f"writing {path} failed (exit {job.returncode})")
        path.with_suffix(".partial").rename(path)
    if jobs:
        print(f"wrote {len(jobs)} bundle(s) in {time.monotonic() - started:.1f}s", flush=True)
    return base, renamed


def _run(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    from rostersync.simulator.stream import StreamingDistrict

    started = time.monotonic()
    keys = Fernet.generate_key().decode()
    results: dict[str, Any] = {
        "students": args.students,
        "seed": args.seed,
        "source": "OneRoster 1.1 CSV bundle (StreamingDistrict)",
        "counts": StreamingDistrict(students=args.students, seed=args.seed).counts(),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "peak_memory_method": (
            "ru_maxrss of a fresh child process per measurement, plus that of its enrollment "
            "reader helper (RUSAGE_CHILDREN)"
        ),
        "command": " ".join(["python -m bench.sync_bench", *sys.argv[1:]]),
        **_commit(),
        "load_average": {"start": os.getloadavg()[0]},
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="rs-bench-") as tmp, _Simulators(args) as simulators:
        base, renamed = _ensure_bundles(args.bundles or Path(tmp), args.students, args.seed)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            with _Databases(backend, tmp, args) as dbs:
                data = results["backends"][backend] = _measure_backend(
                    backend, base, renamed, dbs, keys
                )
                _measure_physical(data, backend, base, dbs, args)
                if simulators:
                    _measure_rest(data, backend, dbs, keys, simulators)
            # Written after each backend, so a long run that stops later keeps what it measured.
            path = _save(results)
    results["load_average"]["end"] = os.getloadavg()[0]
    results["wall_seconds"] = time.monotonic() - started
    results["cpu_seconds"] = _cpu_seconds()
    path = _save(results)
    print()
    print(markdown(results))
    print(f"\nresults: {path}")
    return 0


def _save(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results.setdefault("started", f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    path = RESULTS / f"{stamp}-{results['students']}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    return path


def _measure_backend(
    backend: str, base: Path, renamed: Path, dbs: _Databases, keys: str
) -> dict[str, Any]:
    sync_url = dbs.new()
    onboard(sync_url, keys, UNUSED_SOURCE_URL)
    timings: dict[str, float] = {}
    rss: dict[str, float] = {}
    details: dict[str, Any] = {}

    def measure(figure: str, task: str, url: str, bundle: Path) -> None:
        out = _child(task, url, bundle, keys)
        timings[figure], rss[figure] = out["seconds"], out["max_rss_kb"] / 1024
        details[figure] = out.get("detail", {})
        details[figure]["helper_peak_rss_mb"] = out.get("helper_max_rss_kb", 0) / 1024
        details[figure]["helper_cpu_seconds"] = out.get("helper_cpu_seconds", 0.0)
        line = f"{backend:>10} {figure:<12} {out['seconds']:8.2f}s  {rss[figure]:7.0f} MB"
        print(line, flush=True)

    measure("first_sync", "sync", sync_url, base)
    measure("noop_resync", "sync", sync_url, base)
    measure("delta_1pct", "sync", sync_url, renamed)
    measure("read_parse", "read", sync_url, base)
    load_url = dbs.new()
    onboard(load_url, keys, UNUSED_SOURCE_URL)
    measure("bulk_load", "load", load_url, base)
    return {"timings": timings, "peak_rss_mb": rss, "ratios": ratios(timings), "detail": details}


def _measure_physical(
    data: dict[str, Any], backend: str, bundle: Path, dbs: _Databases, args: argparse.Namespace
) -> None:
    """Add the physical bounds, each in a fresh child, and the ratios against them to `data`."""
    timings: dict[str, float] = {}
    rss: dict[str, float] = {}
    details: dict[str, Any] = {}
    for bound in physical.TASKS:
        url = dbs.new() if bound == "load" else ""
        out = physical.measure(bound, bundle, db_url=url, students=args.students, seed=args.seed)
        timings[bound], rss[bound] = out["seconds"], out["max_rss_kb"] / 1024
        details[bound] = {**out.get("detail", {}), "cpu_seconds": out["cpu_seconds"]}
        print(f"{backend:>10} {bound:<16} {out['seconds']:8.2f}s  {rss[bound]:7.0f} MB", flush=True)
    data["physical"] = {"timings": timings, "peak_rss_mb": rss, "detail": details}
    data["physical_ratios"] = physical_ratios(data["timings"], timings)


class _Simulators:
    """The REST path's two simulators, `serve` of `bench.rest_bench` each in its own process:
    one answering at once, one holding every answer back `REST_LATENCY` seconds.

    Both start together, before anything is timed, and serve both backends; false when
    `--no-rest`.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.prompt: rest_bench.Simulator | None = None
        self.slow: rest_bench.Simulator | None = None

    def __enter__(self) -> _Simulators:
        if self.args.rest:
            students, seed = self.args.students, self.args.seed
            self.prompt = prompt = rest_bench.Simulator(students, seed)
            self.slow = slow = rest_bench.Simulator(students, seed, REST_LATENCY)
            try:  # both serving before anything is timed: no start-up overlaps a figure
                prompt.url(), slow.url()
            except BaseException:
                self.__exit__()
                raise
        return self

    def __bool__(self) -> bool:
        return self.prompt is not None

    def __exit__(self, *exc: object) -> None:
        for simulator in (self.prompt, self.slow):
            if simulator is not None:
                simulator.close()


def _measure_rest(
    data: dict[str, Any], backend: str, dbs: _Databases, keys: str, simulators: _Simulators
) -> None:
    """Add the REST figures, each sync in a fresh child (`bench.rest_bench.measure_sync`), judged
    against this backend's physical bounds, to `data`.

    The first sync and the no-op resync pull from the prompt simulator into one database; the
    first sync with latency from the slow one into another.
    """
    assert simulators.prompt is not None and simulators.slow is not None
    outs: dict[str, dict[str, Any]] = {}
    runs = [
        ("first_sync", simulators.prompt, True),
        ("noop_resync", simulators.prompt, False),
        ("first_sync_latency", simulators.slow, True),
    ]
    url = ""
    for figure, simulator, fresh in runs:
        if fresh:
            url = dbs.new()
            onboard(url, keys, simulator.url())
        out = outs[figure] = rest_bench.measure_sync(url, keys, simulator.url(), REST_CONCURRENCY)
        print(
            f"{backend:>10} rest {figure:<18} {out['seconds']:8.2f}s  {out['peak_mb']:7.0f} MB  "
            f"{out['requests']} requests",
            flush=True,
        )
    data["rest"] = rest_figures(
        outs, data["physical"]["timings"], latency=REST_LATENCY, concurrency=REST_CONCURRENCY
    )


def _commit() -> dict[str, Any]:
    """The commit measured, and the files of the code the benchmark runs (src/, bench/) that
    differed from it when the run started."""

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("diff", "--name-only", "HEAD", "--", "src", "bench")
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_changes": changed.split()}


def _cpu_seconds() -> float:
    """CPU seconds of this process and every child it waited for (not the PostgreSQL server's)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _child(task: str, db_url: str, bundle: Path, keys: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "bench.sync_bench", "worker", task]
        # `=` form: a Fernet key may start with "-", which argparse would take for an option.
        command += ["--db-url", db_url, "--bundle", str(bundle), f"--secret-keys={keys}"]
        command += ["--out", out.name]
        subprocess.run(command, check=True, cwd=ROOT)
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
        return result


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
    # The helper reading enrollments aside (the timed run's only child process) runs alongside
    # the run. Linux reports kilobytes.
    own, helper = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    result = {
        "seconds": seconds,
        "max_rss_kb": own.ru_maxrss + helper.ru_maxrss,
        "helper_max_rss_kb": helper.ru_maxrss,
        "helper_cpu_seconds": helper.ru_utime + helper.ru_stime,
        "detail": detail,
    }
    Path(args.out).write_text(json.dumps(result))


def _task_sync(args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    from rostersync.config import Settings
    from rostersync.services import Services
    from rostersync.sync.bundle_source import BundleSource

    service = Services(Settings(database_url=args.db_url, secret_keys=args.secret_keys))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = service.runs.sync(SLUG, source=BundleSource(args.bundle))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        service.close()
    if report.status != "succeeded":
        raise SystemExit(f"sync {report.status}: {report.error}")
    return seconds, {"counts": report.counts, "records": report.records_pulled, "cpu_seconds": cpu}


def _task_read(args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    """Stream the bundle, parse its CSV and map each row to a domain record, keeping nothing."""
    from rostersync.sync.bundle_source import BundleSource

    source = BundleSource(args.bundle)
    started, cpu = time.perf_counter(), time.process_time()
    for _record in source.records():
        pass
    detail = {"records": dict(source.stats.records), "cpu_seconds": time.process_time() - cpu}
    return time.perf_counter() - started, detail


def _task_load(args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    """Time loading the rows a first sync writes into empty tables, in one transaction.

    Rows are built a chunk at a time between the timed loads, so only loading is measured and
    the child never holds every row at once.
    """
    from rostersync.store.db import create_engine_for

    engine = create_engine_for(args.db_url)
    seconds = cpu = 0.0
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        postgres = engine.dialect.name == "postgresql"
        raw: Any = conn.connection.dbapi_connection  # the driver's own: psycopg's or sqlite3's
        assert raw is not None
        for table, chunk in _rows_of_first_sync(conn, args):
            counts[table.name] = counts.get(table.name, 0) + len(chunk)
            started, cpu_started = time.perf_counter(), time.process_time()
            if postgres:
                with raw.cursor() as cursor:
                    _copy(cursor, table, chunk)
            else:
                _executemany(conn, table, chunk)
            seconds += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
        # Committing is part of loading.
        started, cpu_started = time.perf_counter(), time.process_time()
    seconds += time.perf_counter() - started
    cpu += time.process_time() - cpu_started
    engine.dispose()
    return seconds, {"rows": counts, "cpu_seconds": cpu}


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == LOAD_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rows_of_first_sync(conn: Any, args: argparse.Namespace) -> Iterator[tuple[Any, list[Any]]]:
    """The rows, per table in dependency order and in chunks, that a first sync of this bundle
    writes.

    Uses the same domain steps and the store's own column mapping (`store.apply`), so the rows
    are the sync's rows, not an approximation. Audit rows are loaded last, as one table.
    """
    from rostersync.domain.plan import plan_sync
    from rostersync.domain.records import EntityKind
    from rostersync.domain.validate import validate_roster
    from rostersync.store import apply as store_apply
    from rostersync.store import districts as store_districts
    from rostersync.store.tables import ROSTER_TABLES, audit_log, eligibility
    from rostersync.sync.bundle_source import BundleSource
    from rostersync.sync.pipeline import collect

    source = BundleSource(args.bundle)
    roster = collect(source)
    now = datetime.now(UTC)
    district = store_districts.get_district(conn, SLUG)
    rules = store_districts.rules_for(store_districts.get_integration(conn, district.id))
    validated = validate_roster(roster, rules)
    del roster
    plan = plan_sync(validated, {}, {}, rules, complete_kinds=set(EntityKind))
    del validated
    writer = store_apply._Writer(conn, district_id=district.id, plan=plan, now=now)
    for kind in EntityKind:
        creates = plan.entities[kind].creates
        writer.refs.prepare_for(kind, [w.record for w in creates])
        rows = (
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
        )
        for chunk in _chunks(rows):
            yield ROSTER_TABLES[kind], chunk
    elig = (
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
    )
    for chunk in _chunks(elig):
        yield eligibility, chunk
    audit = (
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
        for kind in EntityKind
        for w in plan.entities[kind].creates
    )
    for chunk in _chunks(audit):
        yield audit_log, chunk


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
