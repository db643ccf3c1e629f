"""Fleet benchmark: many districts synced nightly by two Redis workers sharing ClassLink's budget.

    .venv/bin/python -m bench.fleet                      # 500 districts of 500–5,000 students
    .venv/bin/python -m bench.fleet --districts 50       # a quick run
    make bench-fleet FLEET_ARGS="--districts 50"

What it does, in order:

1. starts one simulator process serving every district as a tenant (`bench.fleet_server`), sizes
   spread evenly from `--min-students` to `--max-students`, which stamps each request's arrival;
2. makes a fresh PostgreSQL database (dropped at the end) and onboards every district, each to
   sync daily at 02:00 UTC, on a Redis queue of its own (its keys removed at the end);
3. starts `--worker-processes` real workers (`python -m rostersync.jobs.worker`, `--threads`
   each), whose roster requests share one budget of `--rate` requests per second in Redis;
4. round 1, "nightly": the scheduler tick enqueues every district's slot at once; waits (polling
   the database) until every slot has finished, noting the queue's depth at each look;
5. round 2: the same again, nothing changed at the source: a no-op sync of every district.

Reported (a table on stdout, JSON in `bench/results/fleet-<timestamp>.json`): each round's wall
time (from the tick to the last slot's end), run durations (median, p95), the no-op overhead per
district (round 2's wall × concurrent runs ÷ districts), the most requests the *server* saw in
any window of the budget's length against the budget, each district's wait for the budget (from
the workers' `run.budget_waited` lines) and per request by district size, and the peak queue
depth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import redis
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.fleet_report import busiest_window, by_size_quartile, markdown, spread, tightest_span
from bench.fleet_server import credentials, tenant_name
from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue
from rostersync.jobs.scheduler import tick
from rostersync.queue_backend import queue_reader
from rostersync.services import Questionnaire, Services
from rostersync.store.jobs_tables import sync_slots
from rostersync.store.tables import sync_runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
# How often the database is asked whether the round is over (seconds).
POLL_SECONDS = 0.25


@dataclass(kw_only=True)
class Fleet:
    """One fleet to measure.

    Args:
        sizes: Students of each district.
        db_url: An empty or migrated PostgreSQL database of the fleet's own.
        queue_name: A Redis queue of the fleet's own.
        workdir: Where the workers' logs, the outbox and the stamps go.
        worker_processes: Worker processes.
        threads: Worker threads in each.
        rate: The shared budget, requests per second (whole).
        seed: Seeds the districts (district i gets `seed + i`).
        redis_url: The Redis server.
        round_timeout: The longest a round may take (seconds) before the benchmark gives up.
    """

    sizes: list[int]
    db_url: str
    queue_name: str
    workdir: Path
    worker_processes: int = 2
    threads: int = 2
    rate: float = 20.0
    seed: int = 11
    redis_url: str = DEFAULT_REDIS
    round_timeout: float = 3600.0
    values: dict[str, Any] = field(default_factory=dict)

    def settings_values(self) -> dict[str, Any]:
        """The settings every process of the fleet shares."""
        if not self.values:
            self.values = {
                "database_url": self.db_url,
                "secret_keys": Fernet.generate_key().decode(),
                "data_dir": str(self.workdir / "data"),
                "queue_backend": "redis",
                "redis_url": self.redis_url,
                "queue_name": self.queue_name,
                "roster_requests_per_second": self.rate,
                "job_retry_delay_seconds": 2,
                "mail_backend": "outbox",
                "outbox_dir": str(self.workdir / "outbox"),
                "log_format": "json",
                "log_level": "INFO",
                # The simulator's stamps are old: no stale-roster emails.
                "stale_after_days": 36500,
            }
        return self.values


def spread_sizes(districts: int, smallest: int, largest: int) -> list[int]:
    """`districts` sizes evenly spread from `smallest` to `largest` students, interleaved so
    big and small districts are enqueued side by side."""
    if districts == 1:
        return [smallest]
    step = (largest - smallest) / (districts - 1)
    ordered = [round(smallest + i * step) for i in range(districts)]
    # Every other district from the big end: 500, 5000, 509, 4991, ...
    return [ordered[i // 2] if i % 2 == 0 else ordered[-1 - i // 2] for i in range(districts)]


# The fleet's processes ---------------------------------------------------------------------------


class Simulator:
    """The `bench.fleet_server` process, started and asked for its stamps."""

    def __init__(self, sizes: list[int], seed: int, workdir: Path) -> None:
        self._workdir = workdir
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.fleet_server",
                "--sizes",
                ",".join(map(str, sizes)),
                "--seed",
                str(seed),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self._stdout.readline()
        if not first:
            raise RuntimeError("the simulator process stopped before serving")
        self.url: str = json.loads(first)["url"]

    @property
    def _stdout(self) -> IO[str]:
        assert self._process.stdout is not None
        return self._process.stdout

    def base_url(self, name: str) -> str:
        return f"{self.url}/{name}/ims/oneroster/v1p1"

    def stamps(self) -> list[tuple[float, str]]:
        """Every request's arrival so far: (Unix seconds, tenant)."""
        assert self._process.stdin is not None
        path = self._workdir / "stamps.json"
        self._process.stdin.write(f"stamps {path}\n")
        self._process.stdin.flush()
        if self._stdout.readline().strip() != "ok":
            raise RuntimeError("the simulator process did not write its stamps")
        return [(float(t), str(name)) for t, name in json.loads(path.read_text())]

    def stop(self) -> None:
        if self._process.stdin is not None:
            with suppress(BrokenPipeError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stdout.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def workers(
    fleet: Fleet, settings: Settings
) -> Iterator[list[tuple[subprocess.Popen[bytes], str]]]:
    """The worker processes with the URL of each one's metrics; stopped with SIGINT (running
    tasks finish) at the end."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
        **{f"ROSTERSYNC_{k.upper()}": str(v) for k, v in fleet.settings_values().items()},
    }
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for index in range(fleet.worker_processes):
            port = _free_port()
            with (fleet.workdir / f"worker-{index}.log").open("ab") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "rostersync.jobs.worker",
                        "--workers",
                        str(fleet.threads),
                        "--no-periodic",
                        "--metrics-port",
                        str(port),
                    ],
                    env=env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, f"http://127.0.0.1:{port}/metrics"))
        yield started
    finally:
        for process, _url in started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process, _url in started:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def onboard(portal: Services, simulator: Simulator, sizes: list[int]) -> dict[str, int]:
    """Onboard every district to sync daily at 02:00 UTC; district id → students."""
    students: dict[str, int] = {}
    for index, size in enumerate(sizes):
        name = tenant_name(index)
        key, secret = credentials(name)
        record = portal.districts.add(
            Questionnaire(
                slug=name,
                name=f"Fleet District {index}",
                display_name=f"Fleet District {index} – Springfield, IL",
                city="Springfield",
                state="IL",
                source_url=simulator.base_url(name),
                key=key,
                secret=secret,
                data_manager_emails=[f"dm@{name}.example"],
                sync_frequency="daily",
                sync_time="02:00",
                time_zone="UTC",
            )
        )
        students[record.id] = size
    return students


# A round -----------------------------------------------------------------------------------------


def run_round(
    portal: Services, queue: JobQueue, settings: Settings, at: datetime, timeout: float
) -> dict[str, Any]:
    """Enqueue every due district at once (the scheduler's tick at `at`), wait for every slot
    to finish; the round's slots, runs, wall time and peak queue depth."""
    depth = queue_reader(settings, queue.huey)
    start = datetime.now(UTC)
    sent = tick(portal, at, enqueue=queue.enqueue_sync)
    slots = {item.due_slot for item in sent}
    peak = 0
    deadline = time.monotonic() + timeout
    while True:
        peak = max(peak, depth()["pending"])
        with portal.engine.connect() as conn:
            rows = conn.execute(select(sync_slots).where(sync_slots.c.due_slot.in_(slots))).all()
        if rows and all(row.status == "finished" for row in rows):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the round did not finish within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    run_ids = [row.run_id for row in rows if row.run_id is not None]
    with portal.engine.connect() as conn:
        runs = conn.execute(select(sync_runs).where(sync_runs.c.id.in_(run_ids))).all()
    end = max(row.finished_at for row in rows)
    return {
        "start": start,
        "end": end,
        "enqueued": len(sent),
        "slots": rows,
        "runs": runs,
        "peak_queue_depth": peak,
    }


def _round_figures(
    done: dict[str, Any],
    stamps: list[tuple[float, str]],
    waits: dict[str, float],
    durations: list[float],
    students: dict[str, int],
    slugs: dict[str, str],
    rate: float,
) -> dict[str, Any]:
    start, end = done["start"].timestamp(), done["end"].timestamp()
    runs = done["runs"]
    in_round = [(t, name) for t, name in stamps if start <= t <= end]
    requests: dict[str, int] = {}
    for _t, name in in_round:
        requests[name] = requests.get(name, 0) + 1
    district_waits = {d: waits.get(d, 0.0) for d in students}
    per_request = {
        d: district_waits[d] / requests[slugs[d]] for d in students if requests.get(slugs[d])
    }
    return {
        "wall_seconds": end - start,
        "enqueued": done["enqueued"],
        "succeeded": sum(1 for r in runs if r.status == "succeeded"),
        "statuses": sorted({r.status for r in runs}),
        # Start to end of each run, as the run itself timed it.
        "run_seconds": spread(durations),
        # The runs table's `finished_at` is stamped when the run's write transaction begins, so
        # this leaves out the writing.
        "runs_table_seconds": spread(
            [(r.finished_at - r.started_at).total_seconds() for r in runs if r.finished_at]
        ),
        "requests": len(in_round),
        "budget_floor_seconds": len(in_round) / rate,
        "budget_wait": spread(list(district_waits.values())),
        "wait_per_request_by_size": by_size_quartile(students, per_request),
        "peak_queue_depth": done["peak_queue_depth"],
    }


def worker_lines(workdir: Path, event: str) -> Iterator[dict[str, Any]]:
    """The workers' JSON log lines of one event."""
    for log in sorted(workdir.glob("worker-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if f'"{event}"' in line and line.startswith("{"):
                yield json.loads(line)


def budget_waits(workdir: Path, run_ids: set[str]) -> dict[str, float]:
    """District id → seconds its runs among `run_ids` waited for the budget (workers' logs)."""
    waits: dict[str, float] = {}
    for entry in worker_lines(workdir, "run.budget_waited"):
        if entry.get("run_id") in run_ids:
            district = str(entry["district_id"])
            waits[district] = waits.get(district, 0.0) + float(entry["seconds"])
    return waits


def run_seconds(workdir: Path, run_ids: set[str]) -> list[float]:
    """How long each run among `run_ids` took, start to end (the workers' `sync.finished`)."""
    return [
        float(entry["seconds"])
        for entry in worker_lines(workdir, "sync.finished")
        if entry.get("run_id") in run_ids
    ]


def scrape(urls: list[str]) -> str:
    """The workers' metrics pages, one after the other."""
    return "\n".join(httpx.get(url, timeout=30).text for url in urls)


def _wait_for_metrics(urls: list[str], processes: list[subprocess.Popen[bytes]]) -> None:
    # A worker is ready once its metrics answer (it has imported everything by then).
    deadline = time.monotonic() + 120
    for url in urls:
        while True:
            try:
                httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError("a worker process stopped while starting") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no metrics at {url} within 120 s") from None
                time.sleep(POLL_SECONDS)


def run_fleet(fleet: Fleet) -> dict[str, Any]:
    """Measure `fleet` (both rounds); the results the table and the JSON are made from."""
    fleet.workdir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    simulator = Simulator(fleet.sizes, fleet.seed, fleet.workdir)
    generated = time.monotonic() - began
    try:
        settings = Settings(**fleet.settings_values())
        portal = Services(settings)
        try:
            portal.init_db()
            mark = time.monotonic()
            students = onboard(portal, simulator, fleet.sizes)
            onboarding = time.monotonic() - mark
            slugs = {d.id: d.slug for d in portal.districts.list_all()}
            queue = JobQueue(settings, service=portal, periodic=False)
            with workers(fleet, settings) as started:
                urls = [url for _p, url in started]
                mark = time.monotonic()
                _wait_for_metrics(urls, [p for p, _u in started])
                workers_ready = time.monotonic() - mark
                now = datetime.now(UTC)
                first = run_round(
                    portal, queue, settings, now + timedelta(days=7), fleet.round_timeout
                )
                after_first = _families(scrape(urls))
                second = run_round(
                    portal, queue, settings, now + timedelta(days=8), fleet.round_timeout
                )
                worker_metrics = _families(scrape(urls))
        finally:
            portal.close()
        stamps = simulator.stamps()
    finally:
        simulator.stop()
    limit = int(fleet.rate) if fleet.rate >= 1 else 1
    window = 1.0 if fleet.rate >= 1 else float(max(1, round(1 / fleet.rate)))
    arrivals = [t for t, _name in stamps]
    most, at = busiest_window(arrivals, window)
    span = tightest_span(arrivals, limit + 1)
    concurrent = fleet.worker_processes * fleet.threads
    figures = []
    for done in (first, second):
        run_ids = {r.id for r in done["runs"]}
        waits = budget_waits(fleet.workdir, run_ids)
        durations = run_seconds(fleet.workdir, run_ids)
        figures.append(_round_figures(done, stamps, waits, durations, students, slugs, fleet.rate))
    return {
        "started": f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        "machine": f"{platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "districts": len(fleet.sizes),
        "students": sum(fleet.sizes),
        "students_min": min(fleet.sizes),
        "students_max": max(fleet.sizes),
        "worker_processes": fleet.worker_processes,
        "threads": fleet.threads,
        "setup_seconds": {
            "simulator": generated,
            "onboarding": onboarding,
            "workers_ready": workers_ready,
        },
        "round1": figures[0],
        "round2": figures[1],
        "noop_overhead": {
            "per_district_seconds": figures[1]["wall_seconds"] * concurrent / len(fleet.sizes),
            "concurrent_runs": concurrent,
        },
        "budget": {
            "limit": limit,
            "window_seconds": window,
            "max_requests": most,
            "busiest_window_start": at,
            "within": most <= limit,
            "tightest_span": span,
            "requests": len(stamps),
        },
        "peak_queue_depth": max(first["peak_queue_depth"], second["peak_queue_depth"]),
        "worker_metrics": worker_metrics,
        "phase_seconds": {
            "round1": _phase_means(after_first, {}),
            "round2": _phase_means(worker_metrics, after_first),
        },
        "stamps": stamps,
    }


def _families(text_: str) -> dict[str, float]:
    """The workers' samples of the run and budget families, summed across workers."""
    wanted = (
        "rostersync_runs_total",
        "rostersync_run_seconds_count",
        "rostersync_run_seconds_sum",
        "rostersync_roster_budget_waits_total",
        "rostersync_roster_budget_wait_seconds_total",
        "rostersync_roster_budget_refusals_total",
        "rostersync_records_pulled_total",
        "rostersync_run_phase_seconds_sum",
        "rostersync_run_phase_seconds_count",
    )
    summed: dict[str, float] = {}
    for line in text_.splitlines():
        if line.startswith(wanted):
            name, _, number = line.rpartition(" ")
            summed[name] = summed.get(name, 0.0) + float(number)
    return summed


def _phase_means(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    """Mean seconds per run in each phase between two scrapes of the workers."""
    means = {}
    for phase in ("pulling", "validating", "planning", "writing"):
        label = f'{{phase="{phase}"}}'
        total = now.get(f"rostersync_run_phase_seconds_sum{label}", 0.0)
        runs = now.get(f"rostersync_run_phase_seconds_count{label}", 0.0)
        total -= before.get(f"rostersync_run_phase_seconds_sum{label}", 0.0)
        runs -= before.get(f"rostersync_run_phase_seconds_count{label}", 0.0)
        means[phase] = total / runs if runs else 0.0
    return means


# The command -------------------------------------------------------------------------------------


@contextmanager
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A new PostgreSQL database on the server of `postgres_url`, dropped at the end."""
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"rostersync_fleet_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def own_queue(redis_url: str) -> Iterator[str]:
    """A queue name of the fleet's own on Redis; its keys are removed at the end."""
    name = f"rostersync-fleet-{secrets.token_hex(4)}"
    try:
        yield name
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{name}*"):
            client.delete(key)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--districts", type=int, default=500)
    parser.add_argument("--min-students", type=int, default=500)
    parser.add_argument("--max-students", type=int, default=5000)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="worker threads per process")
    parser.add_argument("--rate", type=float, default=20.0, help="budget, requests per second")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--out", type=Path, help="the JSON results (default: bench/results/)")
    args = parser.parse_args(argv)
    sizes = spread_sizes(args.districts, args.min_students, args.max_students)
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="rostersync-fleet-") as tmp,
        fresh_database(args.postgres_url) as db_url,
        own_queue(args.redis_url) as queue_name,
    ):
        fleet = Fleet(
            sizes=sizes,
            db_url=db_url,
            queue_name=queue_name,
            workdir=Path(tmp),
            worker_processes=args.worker_processes,
            threads=args.threads,
            rate=args.rate,
            seed=args.seed,
            redis_url=args.redis_url,
        )
        results = run_fleet(fleet)
    results["wall_seconds"] = time.monotonic() - began
    results["command"] = "python -m bench.fleet " + " ".join(argv or sys.argv[1:])
    out = args.out or RESULTS / f"fleet-{results['started']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # The server's stamps beside the figures, for a closer look at its busiest windows.
    stamps = out.with_suffix(".stamps.json")
    stamps.write_text(json.dumps(results.pop("stamps")))
    out.write_text(json.dumps(results, indent=2, sort_keys=True, default=str))
    print(markdown(results))
    print(f"\nWhole benchmark: {results['wall_seconds']:.0f} s; results in {out}")
    # A request holds its slot until a window after its answer (decision 0037), so the server
    # never sees more than the budget in any window of its clock, however loaded the machine.
    return 0 if results["budget"]["within"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
