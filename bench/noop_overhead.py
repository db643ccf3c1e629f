"""No-op overhead per district: one district synced again with nothing changed, in one process.

    .venv/bin/python -m bench.noop_overhead                        # 20, 500, 2,000 students
    .venv/bin/python -m bench.noop_overhead --sizes 500 --repeat 15 --backends postgresql

For each backend (SQLite in a temporary file, PostgreSQL in a database of its own, dropped at the
end) and each district size: one simulator process (`bench.fleet_server`) serves the district on
loopback; this process onboards it, syncs it once, then syncs it `--repeat` more times with
nothing changed, through `Services.runs.sync` as the CLI and the workers do, under the default
request budget (50 a second, the process's own). Each no-op run is measured alone:

- wall seconds and this process's CPU seconds (`time.process_time`, every thread: on a shared
  machine much steadier than wall seconds, though they leave out the simulator's and the
  database server's share);
- the seconds of each phase (pulling, validating, planning, writing), from the run's own
  `rostersync_run_phase_seconds` histogram;
- the statements sent to the database (at the cursor; an executemany counts once).

Medians are reported, with the load averages at the start and the end. Beside them, in the same
run, the physical bound of `bench.physical`: decoding and hashing the same number of students'
records from OneRoster JSON pages (`rest_decode_hash`), with none of the sync's code. The smallest
district's no-op is the overhead a district costs whatever its size. Results go to
`bench/results/noop-<timestamp>.json` and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from rostersync.config import Settings
from rostersync.logs import configure_logging
from rostersync.metrics import REGISTRY
from rostersync.services import Questionnaire, Services

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PHASES = ("pulling", "validating", "planning", "writing")
TENANT, KEY, SECRET = "f000", "key-f000", "secret-f000"
SEED = 11


def phase_seconds() -> dict[str, float]:
    """Seconds every run of this process spent in each phase so far."""
    return {
        phase: REGISTRY.get_sample_value("rostersync_run_phase_seconds_sum", {"phase": phase})
        or 0.0
        for phase in PHASES
    }


@contextmanager
def simulator(students: int) -> Iterator[str]:
    """`bench.fleet_server` serving one district of `students`; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fleet_server", "--sizes", str(students), "--seed", str(SEED)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        yield str(json.loads(process.stdout.readline())["url"])
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


@contextmanager
def database(backend: str, pg_url: str, workdir: Path) -> Iterator[str]:
    """A fresh, empty database URL of `backend`."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'noop-{secrets.token_hex(4)}.db'}"
        return
    name = f"noop_{secrets.token_hex(6)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(backend: str, students: int, repeat: int, pg_url: str) -> dict[str, Any]:
    """One district's first sync, then `repeat` no-op syncs, each measured."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(students) as url,
        database(backend, pg_url, Path(tmp)) as db_url,
    ):
        settings = Settings(
            database_url=db_url,
            secret_keys=Fernet.generate_key().decode(),
            data_dir=Path(tmp) / "data",
            mail_backend="outbox",
            outbox_dir=Path(tmp) / "outbox",
            stale_after_days=36500,
            log_format="json",
            log_level="WARNING",
        )
        configure_logging(settings)
        service = Services(settings)
        try:
            service.init_db()
            service.districts.add(
                Questionnaire(
                    slug=TENANT,
                    name="Fleet district",
                    display_name="Fleet district",
                    city="Springfield",
                    state="IL",
                    source_url=f"{url}/{TENANT}/ims/oneroster/v1p1",
                    key=KEY,
                    secret=SECRET,
                    tenant_id=TENANT,
                )
            )
            started = time.perf_counter()
            first = service.runs.sync(TENANT, trigger="manual")
            first_seconds = time.perf_counter() - started
            assert first.status == "succeeded", first.error
            sent = [0]

            def count(*_args: object) -> None:
                sent[0] += 1

            event.listen(service.engine, "before_cursor_execute", count)
            runs: list[dict[str, Any]] = []
            for _ in range(repeat):
                sent[0] = 0
                phases = phase_seconds()
                wall, cpu = time.perf_counter(), time.process_time()
                report = service.runs.sync(TENANT, trigger="manual")
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert report.status == "succeeded" and report.change_count == 0
                after = phase_seconds()
                runs.append(
                    {
                        "wall": wall,
                        "cpu": cpu,
                        "statements": sent[0],
                        "phases": {p: after[p] - phases[p] for p in PHASES},
                        "requests": report.requests,
                    }
                )
        finally:
            service.close()
    return {
        "backend": backend,
        "students": students,
        "first_sync_seconds": round(first_seconds, 3),
        "runs": runs,
        "wall": _median(r["wall"] for r in runs),
        "cpu": _median(r["cpu"] for r in runs),
        "phases": {p: _median(r["phases"][p] for r in runs) for p in PHASES},
        "statements": sorted({r["statements"] for r in runs}),
        "requests": runs[0]["requests"],
    }


def physical_bound(students: int) -> dict[str, Any]:
    """`bench.physical rest_decode_hash` for `students`, in a fresh process."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.physical",
            "rest_decode_hash",
            "--bundle",
            os.devnull,
            "--students",
            str(students),
            "--seed",
            str(SEED),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _median(values: Iterable[float]) -> float:
    return round(float(statistics.median(list(values))), 4)


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        return "unknown"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | students | requests | no-op wall | CPU | pulling | validating | planning "
        "| writing | statements | physical bound (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        p = r["phases"]
        stmts = "–".join(str(n) for n in (r["statements"][0], r["statements"][-1]))
        if r["statements"][0] == r["statements"][-1]:
            stmts = str(r["statements"][0])
        lines.append(
            f"| {r['backend']} | {r['students']:,} | {r['requests']} | {r['wall'] * 1000:.0f} ms "
            f"| {r['cpu'] * 1000:.0f} ms | {p['pulling'] * 1000:.0f} ms "
            f"| {p['validating'] * 1000:.0f} ms | {p['planning'] * 1000:.0f} ms "
            f"| {p['writing'] * 1000:.0f} ms | {stmts} "
            f"| {r['physical']['cpu_seconds'] * 1000:.0f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.noop_overhead", description=__doc__)
    parser.add_argument("--sizes", default="20,500,2000", help="students, comma-separated")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=9, help="no-op syncs per district")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    results = []
    for backend in args.backends.split(","):
        for students in sizes:
            result = measure(backend, students, args.repeat, args.pg_url)
            result["physical"] = physical_bound(students)
            result["load"] = os.getloadavg()
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "runs"}), flush=True)
    document = {
        "commit": commit(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "repeat": args.repeat,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"noop-{stamp}.json").write_text(json.dumps(document, indent=2))
    print(table(results))
    print(f"load {load_before} → {document['load_after']}; commit {document['commit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
