"""Two worker processes on Redis, 50 scheduled districts: every due sync runs exactly once.

The portal database is PostgreSQL, the districts are tenants of one simulator, and the workers
are real `python -m rostersync.jobs.worker` processes. One of them is killed (SIGKILL) in the
middle of a slow district's sync: its lease runs out, the tick's reaper marks the run abandoned
and queues the slot again, and the other worker completes it with the right data.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from tests.integration.redis_queue import REDIS_URL, own_queue

from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue
from rostersync.jobs.scheduler import tick
from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.simulator.faults import slow
from rostersync.store.jobs_tables import sync_slots
from rostersync.store.tables import sync_runs

DISTRICTS = 50
SLOW = "d07"
LEASE_SECONDS = 3
DEADLINE_SECONDS = 75


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue of this test's own on the shared Redis, removed afterwards."""
    yield from own_queue("rostersync-test")


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    tenants = [
        Tenant(
            name=f"d{i:02d}",
            data=generate_district(students=20, seed=100 + i),
            key=f"key-{i}",
            secret=f"secret-{i}",
        )
        for i in range(DISTRICTS)
    ]
    with SimulatorServer(tenants) as server:
        # Every answer to the slow district is held back, so its sync is killable mid-pull.
        server.set_faults(SLOW, slow(0.6, times=1000))
        yield server


def _settings(db_url: str, data_dir: Path, queue_name: str) -> dict[str, Any]:
    return {
        "database_url": db_url,
        "secret_keys": Fernet.generate_key().decode(),
        "data_dir": str(data_dir),
        "queue_backend": "redis",
        "redis_url": REDIS_URL,
        "queue_name": queue_name,
        "job_lease_seconds": LEASE_SECONDS,
        "mail_backend": "outbox",
        "outbox_dir": str(data_dir / "outbox"),
        "log_format": "json",
        "log_level": "WARNING",
        # The simulator's stamps are old; only the summary email is counted here.
        "stale_after_days": 36500,
    }


def _start_worker(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rostersync.jobs.worker", "--workers", "2"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("databases", ["postgresql"], indirect=True)
class TestTwoWorkersOnRedis:
    """Each due sync runs exactly once, no district runs twice at once, even when a worker dies."""

    def test_fifty_districts_exactly_once_with_a_worker_killed_mid_sync(
        self,
        fresh_db_url: Callable[[], str],
        tmp_path: Path,
        queue_name: str,
        simulator: SimulatorServer,
        request: pytest.FixtureRequest,
    ) -> None:
        values = _settings(fresh_db_url(), tmp_path, queue_name)
        settings = Settings(**values)
        portal = Services(settings)
        request.addfinalizer(portal.close)  # closed however the test ends
        portal.init_db()
        slugs = [f"d{i:02d}" for i in range(DISTRICTS)]
        for i, slug in enumerate(slugs):
            portal.districts.add(
                Questionnaire(
                    slug=slug,
                    name=f"District {i}",
                    display_name=f"District {i} – Springfield, IL",
                    city="Springfield",
                    state="IL",
                    source_url=simulator.base_url(slug),
                    key=f"key-{i}",
                    secret=f"secret-{i}",
                    data_manager_emails=[f"dm{i}@district.example"],
                    sync_frequency="weekdays",
                    sync_time="06:00",
                    time_zone="America/Chicago",
                )
            )
        ids = {d.slug: d.id for d in portal.districts.list_all()}
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
            **{f"ROSTERSYNC_{k.upper()}": str(v) for k, v in values.items()},
            # The same keys as this process, or the workers could not decrypt credentials.
            "ROSTERSYNC_SECRET_KEYS": settings.secret_keys,
        }
        logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
        workers = [_start_worker(env, tmp_path, log) for log in logs]
        queue = JobQueue(settings, service=portal, periodic=False)
        try:
            # A week ahead guarantees a weekday 06:00 Chicago slot has passed since onboarding.
            now = datetime.now(UTC) + timedelta(days=7)
            sent = tick(portal, now, enqueue=queue.enqueue_sync)
            assert len(sent) == DISTRICTS
            assert tick(portal, now, enqueue=queue.enqueue_sync) == []  # exactly-once enqueue

            def slow_run_in_flight() -> bool:
                with portal.engine.connect() as conn:
                    slot = conn.execute(
                        select(sync_slots).where(sync_slots.c.district_id == ids[SLOW])
                    ).one()
                    running = conn.execute(
                        select(sync_runs.c.id).where(
                            sync_runs.c.district_id == ids[SLOW], sync_runs.c.status == "running"
                        )
                    ).first()
                return slot.status == "running" and running is not None

            _wait(slow_run_in_flight, seconds=30, what="the slow district's sync to start")
            with portal.engine.connect() as conn:
                slot = conn.execute(
                    select(sync_slots).where(sync_slots.c.district_id == ids[SLOW])
                ).one()
            holder = slot.worker
            assert holder is not None
            victim_pid = int(holder.split(":")[1])
            victim = next(w for w in workers if w.pid == victim_pid)
            os.kill(victim_pid, signal.SIGKILL)
            victim.wait(timeout=10)

            def all_finished() -> bool:
                # The tick's reaper recovers the killed worker's slots once their lease ends.
                tick(portal, now, enqueue=queue.enqueue_sync)
                with portal.engine.connect() as conn:
                    slots = conn.execute(select(sync_slots)).all()
                finished = len(slots) == DISTRICTS and all(s.status == "finished" for s in slots)
                # A worker sends a slot's email after finishing it: wait for the emails too
                # before stopping the workers, or the last one may be stopped mid-send.
                emails = len(list((tmp_path / "outbox").glob("*.eml")))
                return finished and emails >= DISTRICTS

            _wait(all_finished, seconds=DEADLINE_SECONDS, what="every slot to finish")
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()

        with portal.engine.connect() as conn:
            slots = conn.execute(select(sync_slots)).all()
            runs = conn.execute(
                select(
                    sync_runs.c.district_id,
                    sync_runs.c.status,
                    sync_runs.c.started_at,
                    sync_runs.c.finished_at,
                    sync_runs.c.counts,
                ).order_by(sync_runs.c.district_id, sync_runs.c.started_at)
            ).all()
        assert {s.outcome for s in slots} == {"succeeded"}, [
            (s.district_id, s.outcome) for s in slots
        ]
        by_district: dict[str, list[Any]] = {}
        for run in runs:
            by_district.setdefault(run.district_id, []).append(run)
        assert set(by_district) == set(ids.values())
        for district_id, district_runs in by_district.items():
            statuses = [r.status for r in district_runs]
            # Exactly once: one succeeded run per due slot; anything else was a killed attempt.
            assert statuses.count("succeeded") == 1, (district_id, statuses)
            assert set(statuses) <= {"succeeded", "abandoned"}, (district_id, statuses)
            # Never two at once: each run ended before the district's next one started.
            for earlier, later in itertools.pairwise(district_runs):
                assert earlier.finished_at is not None
                assert earlier.finished_at <= later.started_at, district_id
        slow_runs = by_district[ids[SLOW]]
        assert slow_runs[0].status == "abandoned"
        assert slow_runs[-1].status == "succeeded"
        generated = simulator.tenant(SLOW).data.counts()
        student = slow_runs[-1].counts["entities"]["student"]
        assert student["created"] + student["held"] == generated["students"]
        assert portal.districts.counts(SLOW)["students"]["active"] == student["created"]
        # Each district's data manager heard once about its scheduled sync.
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == DISTRICTS
