"""A small fleet, and what an operator watches on /metrics, scraped over real HTTP after real runs.

Four districts served by one simulator are enqueued at once on a Redis queue of the test's own:
the portal's /metrics counts them as pending messages. Two real worker processes
(`--metrics-port`) then sync them into PostgreSQL within a small shared budget. Every district
synced; the simulator's own stamps show the budget held at the server (`bench.fleet_server`);
and the workers' pages, added up, show each family: runs by status and their durations, time per
phase, records pulled per collection (the simulator's own counts), records per second, the
budget's waits and each run's wait; the portal's and the workers' pages then count no pending
message.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.fleet_report import busiest_window
from bench.fleet_server import StampingSimulator
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from tests.integration.redis_queue import REDIS_URL, own_queue

from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue
from rostersync.jobs.scheduler import tick
from rostersync.services import Questionnaire, Services
from rostersync.simulator import Tenant, generate_district
from rostersync.store.jobs_tables import sync_slots
from rostersync.web.app import create_app
from rostersync.web.server import PortalServer

SIZES = {"maple": 20, "cedar": 35, "birch": 50, "aspen": 65}
RATE = 4
WORKER = (sys.executable, "-m", "rostersync.jobs.worker")
PHASES = ("pulling", "validating", "planning", "writing")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def queue_name() -> Iterator[str]:
    yield from own_queue("rostersync-metrics")


@pytest.fixture
def simulator() -> Iterator[StampingSimulator]:
    tenants = [
        Tenant(
            name=slug,
            data=generate_district(students=students, seed=300 + i, tenant=slug),
            key=f"key-{slug}",
            secret=f"secret-{slug}",
        )
        for i, (slug, students) in enumerate(SIZES.items())
    ]
    with StampingSimulator(tenants) as server:
        yield server


def scrape(*urls: str) -> Samples:
    """Every sample of the metrics pages, by name and labels, added up across the pages."""
    samples: Samples = {}
    for url in urls:
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200, response.text
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("databases", ["postgresql"], indirect=True)
def test_a_small_fleet_keeps_the_budget_and_metrics_show_every_family(
    fresh_db_url: Callable[[], str],
    tmp_path: Path,
    queue_name: str,
    simulator: StampingSimulator,
    request: pytest.FixtureRequest,
) -> None:
    values: dict[str, Any] = {
        "database_url": fresh_db_url(),
        "secret_keys": Fernet.generate_key().decode(),
        "data_dir": str(tmp_path),
        "queue_backend": "redis",
        "redis_url": REDIS_URL,
        "queue_name": queue_name,
        # Small enough that the districts' requests wait for their turns.
        "roster_requests_per_second": RATE,
        "mail_backend": "outbox",
        "outbox_dir": str(tmp_path / "outbox"),
        "log_format": "json",
        "log_level": "WARNING",
        "stale_after_days": 36500,
    }
    settings = Settings(**values)
    portal = Services(settings)
    request.addfinalizer(portal.close)
    portal.init_db()
    for slug in SIZES:
        portal.districts.add(
            Questionnaire(
                slug=slug,
                name=f"{slug.title()} Unified",
                display_name=f"{slug.title()} Unified – Springfield, IL",
                city="Springfield",
                state="IL",
                source_url=simulator.base_url(slug),
                key=f"key-{slug}",
                secret=f"secret-{slug}",
                data_manager_emails=[f"dm@{slug}.example"],
                sync_frequency="daily",
                sync_time="02:00",
                time_zone="UTC",
            )
        )
    server = PortalServer()
    server.start(create_app(portal))
    request.addfinalizer(server.stop)
    portal_metrics = f"{server.url}/metrics"

    queue = JobQueue(settings, service=portal, periodic=False)
    sent = tick(portal, datetime.now(UTC) + timedelta(days=7), enqueue=queue.enqueue_sync)
    assert len(sent) == len(SIZES)
    # No worker yet: every slot's message waits in the queue.
    pending = value(scrape(portal_metrics), "rostersync_queue_messages", state="pending")
    assert pending == len(SIZES)

    ports = [free_port(), free_port()]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
        **{f"ROSTERSYNC_{k.upper()}": str(v) for k, v in values.items()},
    }
    workers = []
    for port in ports:
        with (tmp_path / f"worker-{port}.log").open("ab") as out:
            workers.append(
                subprocess.Popen(
                    [*WORKER, "--workers", "2", "--no-periodic", "--metrics-port", str(port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:

        def all_finished() -> bool:
            with portal.engine.connect() as conn:
                slots = conn.execute(select(sync_slots.c.status)).scalars().all()
            return len(slots) == len(SIZES) and set(slots) == {"finished"}

        wait_for(all_finished, seconds=120, what="every slot to finish")
        samples = scrape(*(f"http://127.0.0.1:{port}/metrics" for port in ports))
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    log = "".join(path.read_text() for path in tmp_path.glob("worker-*.log"))
    runs = len(SIZES)
    with portal.engine.connect() as conn:
        outcomes = conn.execute(select(sync_slots.c.outcome)).scalars().all()
    assert outcomes == ["succeeded"] * runs, log  # every district synced
    # The server never saw more than the budget in any second of its clock, however late a
    # request arrived after its turn on a busy machine (decision 0037); without the budget, the
    # four districts' requests arrive within a second or two.
    arrivals = [t for t, _tenant in simulator.stamps]
    assert len(arrivals) > 2 * RATE
    busiest, _at = busiest_window(arrivals, 1.0)
    assert busiest <= RATE, (busiest, RATE)
    assert value(samples, "rostersync_runs_total", status="succeeded") == runs, log
    assert value(samples, "rostersync_run_seconds_count", status="succeeded") == runs
    assert value(samples, "rostersync_run_seconds_sum", status="succeeded") > 0
    for phase in PHASES:
        assert value(samples, "rostersync_run_phase_seconds_count", phase=phase) == runs, phase
    pulled = {
        dict(labels)["collection"]: number
        for (name, labels), number in samples.items()
        if name == "rostersync_records_pulled_total"
    }
    served = [simulator.tenant(slug).data for slug in SIZES]
    assert pulled == {c: sum(len(d.collection(c)) for d in served) for c in pulled}, pulled
    assert {"users", "enrollments"} <= set(pulled)
    assert value(samples, "rostersync_run_records_per_second_count") == runs
    assert value(samples, "rostersync_run_records_per_second_sum") > 0
    # The budget held requests back, and each run's share of the waits was observed.
    assert value(samples, "rostersync_roster_budget_waits_total", reason="budget") > 0
    waited = value(samples, "rostersync_roster_budget_wait_seconds_total", reason="budget")
    assert waited > 0
    assert value(samples, "rostersync_run_budget_wait_seconds_count") == runs
    per_run = value(samples, "rostersync_run_budget_wait_seconds_sum")
    assert 0 < per_run <= waited + 1e-6
    assert value(samples, "rostersync_roster_budget_refusals_total", reason="budget") == 0
    # The queue is empty, on the worker's page and on the portal's.
    assert value(samples, "rostersync_queue_messages", state="pending") == 0
    assert value(scrape(portal_metrics), "rostersync_queue_messages", state="pending") == 0
