"""A pushed bundle travels through Redis to a real worker process, which syncs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.integration.push.conftest import PushWorld
from tests.integration.redis_queue import REDIS_URL, own_queue

from rostersync.jobs.queue import JobQueue
from rostersync.simulator import DistrictData


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue of this test's own on the shared Redis, removed afterwards."""
    yield from own_queue("rostersync-push-test")


class TestPushThroughRedis:
    """The endpoint answers 202 `queued` at once; a worker on Redis runs the sync."""

    def test_a_worker_process_syncs_the_pushed_bundle(
        self,
        world: PushWorld,
        queue_name: str,
        ogden_bundle: bytes,
        ogden_data: DistrictData,
    ) -> None:
        settings = world.service.settings.model_copy(
            update={"queue_backend": "redis", "redis_url": REDIS_URL, "queue_name": queue_name}
        )
        world.service.push.use_queue(JobQueue(settings, service=world.service, periodic=False))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
            "ROSTERSYNC_DATABASE_URL": settings.database_url,
            "ROSTERSYNC_SECRET_KEYS": settings.secret_keys,
            "ROSTERSYNC_DATA_DIR": str(settings.data_dir),
            "ROSTERSYNC_QUEUE_BACKEND": "redis",
            "ROSTERSYNC_REDIS_URL": REDIS_URL,
            "ROSTERSYNC_QUEUE_NAME": queue_name,
            "ROSTERSYNC_LOG_FORMAT": "json",
            "ROSTERSYNC_STALE_AFTER_DAYS": "36500",
        }
        with world.client("ogden") as client:
            response = client.post(
                "/api/v1/districts/ogden/bundles",
                content=ogden_bundle,
                headers={"Content-Type": "application/zip"},
            )
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "queued"
            status_url = response.json()["status_url"]
            log = settings.data_dir / "worker.log"
            with log.open("ab") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "rostersync.jobs.worker", "--no-periodic"],
                    env=env,
                    cwd=settings.data_dir,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                found = _wait_finished(client, status_url)
            finally:
                worker.terminate()
                worker.wait(timeout=30)
        assert found["status"] == "succeeded", log.read_text()
        run = world.service.runs.get(found["run_id"])
        assert (run.status, run.trigger) == ("succeeded", "push")
        students = sum(1 for u in ogden_data.users if u["role"] == "student")
        assert world.service.districts.counts("ogden")["students"]["active"] == students
        secret = world.keys["ogden"][1]
        assert secret not in log.read_text()


def _wait_finished(client: httpx.Client, status_url: str) -> dict[str, object]:
    """Poll the status URL until the bundle leaves the queue (bounded; not a timing assertion)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found: dict[str, object] = client.get(status_url).json()
        if found["status"] not in ("queued", "running"):
            return found
        time.sleep(0.2)
    raise AssertionError("the worker did not finish the pushed bundle within 120 s")
