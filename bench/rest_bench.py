"""REST sync benchmark: a district pulled over OneRoster 1.1 from the simulator, against its bound.

    .venv/bin/python -m bench.rest_bench                                # 10,000 students
    .venv/bin/python -m bench.rest_bench --students 100000 --latency 0.05 --concurrency 1,4

The simulator serves the streaming district (`StreamingDistrict`, the same one `bench.sync_bench`
writes as a bundle) on loopback from a process of its own (`serve`), with `X-Total-Count`, and
optionally holds every answer back `--latency` seconds, as a distant server would. Each figure runs
in a fresh child process (`worker`), so its peak memory (`VmHWM`) owes nothing to the parent or
to the simulator:

- first_sync: `Services.runs.sync` into an empty database, through the district's REST source
  (signed, retried, within the shared request budget at `--rate` requests per second);
- noop_resync: the same again, nothing changed;

once per page concurrency of `--concurrency`. The bound is `bench.physical`'s `rest_decode_hash`:
the same district's records decoded from JSON pages of 1,000 with msgspec and hashed, none of the
sync's code. With latency, the issue's target adds what waiting for the pages costs at best:
pages × latency ÷ concurrency (pages: the requests the sync sent). Results go to
`bench/results/rest-<timestamp>.json` and a Markdown table to stdout.

`make bench` (`bench.sync_bench`) measures the REST path with this module's `Simulator` and
`measure_sync`, on both databases and judged with the rest of the issue's targets; this module
remains for other sizes, latencies and concurrencies on one database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import physical
from bench.springfield import KEY, SECRET, SLUG, onboard

TENANT = "springfield-bench"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# The shared request budget a benchmark sync runs within, requests per second.
DEFAULT_RATE = 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rest_bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="internal: serve the district until stdin closes")
    serve.add_argument("--students", type=int, required=True)
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument("--latency", type=float, default=0.0)
    worker = sub.add_parser("worker", help="internal: one sync in a child process")
    worker.add_argument("--db-url", required=True)
    worker.add_argument("--base-url", required=True)
    worker.add_argument("--secret-keys", required=True)
    worker.add_argument("--concurrency", type=int, required=True)
    worker.add_argument("--rate", type=float, required=True)
    worker.add_argument("--out", required=True)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--concurrency", default="1,4", help="page concurrencies to measure")
    parser.add_argument(
        "--rate", type=float, default=DEFAULT_RATE, help="request budget per second"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "worker":
        _worker(args)
        return 0
    return _run(args)


# Simulator -------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from rostersync.simulator.faults import FaultPlan, slow
    from rostersync.simulator.server import SimulatorServer
    from rostersync.simulator.stream import StreamingDistrict
    from rostersync.simulator.tenant import Tenant

    data = StreamingDistrict(students=args.students, seed=args.seed).materialise()
    faults = FaultPlan([slow(args.latency, times=10**9)] if args.latency > 0 else [])
    with SimulatorServer([Tenant(TENANT, data, KEY, SECRET, faults=faults)]) as server:
        print(server.base_url(TENANT), flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    return 0


class Simulator:
    """The simulator in a process of its own (`serve`), serving the district until closed.

    `bench.sync_bench` starts these too, one per latency, for the REST rows of `make bench`.
    """

    def __init__(self, students: int, seed: int, latency: float = 0.0) -> None:
        command = [sys.executable, "-m", "bench.rest_bench", "serve"]
        command += ["--students", str(students), "--seed", str(seed), "--latency", str(latency)]
        self.latency = latency
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def url(self) -> str:
        """The tenant's base URL, once the simulator serves it (it prints it when ready)."""
        if not hasattr(self, "_url"):
            assert self.process.stdout is not None
            self._url = self.process.stdout.readline().strip()
            if not self._url:
                raise SystemExit("the simulator did not start")
        return self._url

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


# Parent ----------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    from rostersync.simulator.stream import StreamingDistrict

    started = time.monotonic()
    keys = Fernet.generate_key().decode()
    results: dict[str, Any] = {
        "students": args.students,
        "counts": StreamingDistrict(students=args.students, seed=args.seed).counts(),
        "latency": args.latency,
        "rate": args.rate,
        "backend": args.backend,
        "command": " ".join(["python -m bench.rest_bench", *sys.argv[1:]]),
        "peak_memory_method": "VmHWM of a fresh child process per figure",
        "figures": {},
    }
    bound = physical.measure(
        "rest_decode_hash", Path(os.devnull), students=args.students, seed=args.seed
    )
    results["bound"] = {
        "seconds": bound["seconds"],
        "cpu_seconds": bound["cpu_seconds"],
        "peak_mb": bound["max_rss_kb"] / 1024,
    }
    print(f"rest_decode_hash {bound['seconds']:8.2f}s", flush=True)
    simulator = Simulator(args.students, args.seed, args.latency)
    try:
        for concurrency in [int(c) for c in args.concurrency.split(",") if c.strip()]:
            with _Database(args) as db_url:
                onboard(db_url, keys, simulator.url())
                for figure in ("first_sync", "noop_resync"):
                    out = measure_sync(db_url, keys, simulator.url(), concurrency, args.rate)
                    results["figures"][f"{figure}@{concurrency}"] = out
                    print(
                        f"{figure:<12} concurrency {concurrency}  {out['seconds']:8.2f}s  "
                        f"{out['peak_mb']:7.0f} MB",
                        flush=True,
                    )
    finally:
        simulator.close()
    results["wall_seconds"] = time.monotonic() - started
    path = _save(results)
    print()
    print(markdown(results))
    print(f"\nresults: {path}")
    return 0


def markdown(results: dict[str, Any]) -> str:
    """The figures as a Markdown table, each judged against the bound (and the wait for its
    requests, one per page, at the latency)."""
    bound = results["bound"]["seconds"]
    lines = [
        "| figure | concurrency | seconds | CPU s | ÷ rest_decode_hash | ÷ (pages × latency ÷ "
        "concurrency + bound) | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, out in results["figures"].items():
        figure, concurrency = name.split("@")
        target = out["requests"] * results["latency"] / int(concurrency) + bound
        lines.append(
            f"| {figure} | {concurrency} | {out['seconds']:.2f} | {out['cpu_seconds']:.2f} "
            f"| {out['seconds'] / bound:.2f}× "
            f"| {out['seconds'] / target:.2f}× | {out['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


def _save(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"rest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{results['students']}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    return path


class _Database:
    """An empty database: a SQLite file, or a PostgreSQL schema dropped at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.backend, self.pg_url = args.backend, args.postgres_url
        self.tmp = tempfile.TemporaryDirectory(prefix="rs-rest-bench-")
        self.schema = f"rs_rest_bench_{os.getpid()}_{threading.get_ident() % 10_000}"

    def __enter__(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp.name}/bench.db"
        from sqlalchemy import text

        from rostersync.store.db import create_engine_for

        admin = create_engine_for(self.pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()
        return f"{self.pg_url}?options=-csearch_path%3D{self.schema}"

    def __exit__(self, *exc: object) -> None:
        self.tmp.cleanup()
        if self.backend == "sqlite":
            return
        from sqlalchemy import text

        from rostersync.store.db import create_engine_for

        admin = create_engine_for(self.pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()


def measure_sync(
    db_url: str, keys: str, base_url: str, concurrency: int, rate: float = DEFAULT_RATE
) -> dict[str, Any]:
    """One sync of the district at `base_url` into `db_url`, in a fresh child (`worker`).

    Returns:
        {"seconds", "cpu_seconds", "peak_mb", "records", "requests"}: the child's wall and CPU
        seconds over the sync, its peak memory, the records pulled and the requests sent.
    """
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "bench.rest_bench", "worker", "--db-url", db_url]
        command += ["--base-url", base_url, f"--secret-keys={keys}"]
        command += ["--concurrency", str(concurrency), "--rate", str(rate), "--out", out.name]
        subprocess.run(command, check=True, cwd=ROOT)
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
        return result


# Child -----------------------------------------------------------------------------------------


def _worker(args: argparse.Namespace) -> None:
    import structlog

    from rostersync.config import Settings
    from rostersync.providers import client_options
    from rostersync.services import Services
    from rostersync.sync.sources import OneRosterRestSource

    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    settings = Settings(
        database_url=args.db_url,
        secret_keys=args.secret_keys,
        roster_requests_per_second=args.rate,
    )
    options: dict[str, Any] = dict(client_options(settings, SLUG))
    try:
        source = OneRosterRestSource(
            args.base_url, KEY, SECRET, page_concurrency=args.concurrency, **options
        )
    except TypeError:  # a tree from before decision 0032: page after page
        source = OneRosterRestSource(args.base_url, KEY, SECRET, **options)
    service = Services(settings)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = service.runs.sync(SLUG, source=source)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        service.close()
    if report.status != "succeeded":
        raise SystemExit(f"sync {report.status}: {report.error}")
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": physical.peak_rss_kb() / 1024,
        "records": report.records_pulled,
        "requests": report.requests,
    }
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
