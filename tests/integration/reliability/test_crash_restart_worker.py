"""Crash-restart through the job queue: a worker killed mid-sync loses neither slot nor district.

A real `python -m rostersync.jobs.worker` process (the embedded SQLite queue) takes a scheduled
slot and is killed with SIGKILL in a phase; a second worker is started at once. Within 30
seconds the slot is back (its lease ran out), the killed run is `abandoned` with the phase it
reached, and the retried slot ends as a clean sync would. SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.integration.reliability.processes import (
    PHASES,
    RESTART_WITHIN_SECONDS,
    CrashWorld,
    Snapshot,
    kill,
    wait_for,
)

from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue
from rostersync.jobs.scheduler import tick
from rostersync.store.jobs_tables import sync_slots

TENANT = "south"
SEED = 43


@pytest.mark.parametrize("phase", PHASES)
def test_a_worker_killed_in_any_phase_loses_no_slot_and_the_retry_ends_as_a_clean_sync(
    world: CrashWorld, clean: Snapshot, phase: str
) -> None:
    queue = JobQueue(Settings(**world.values), service=world.portal, periodic=False)
    # A week ahead: a weekday 06:00 Chicago slot has passed since onboarding.
    now = datetime.now(UTC) + timedelta(days=7)
    assert len(tick(world.portal, now, enqueue=queue.enqueue_sync)) == 1
    victim = world.start(["worker", "--no-periodic"], pause=phase, name="worker-a")
    world.paused(victim, phase)
    recorded = world.recorded_phase()
    kill(victim)
    started = time.monotonic()
    world.start(["worker", "--no-periodic"], name="worker-b")

    def next_run_started() -> bool:
        # The tick's reaper puts the slot back once the dead worker's lease has run out.
        tick(world.portal, now, enqueue=queue.enqueue_sync)
        return len(world.runs()) == 2

    wait_for(next_run_started, seconds=RESTART_WITHIN_SECONDS, what="the slot's next sync")
    assert time.monotonic() - started < RESTART_WITHIN_SECONDS

    def slot_finished() -> bool:
        with world.engine.connect() as conn:
            (slot,) = conn.execute(
                select(sync_slots).where(sync_slots.c.district_id == world.district_id)
            ).all()
        return slot.status == "finished"

    wait_for(slot_finished, seconds=60, what="the retried slot to finish")
    (_, killed_status, error), (run_id, status, _) = world.runs()
    assert (killed_status, status) == ("abandoned", "succeeded")
    assert error is not None and f"while {recorded}" in error
    with world.engine.connect() as conn:
        (slot,) = conn.execute(
            select(sync_slots).where(sync_slots.c.district_id == world.district_id)
        ).all()
    assert (slot.outcome, slot.run_id) == ("succeeded", run_id)
    assert world.lock_row() is None
    assert world.snapshot() == clean
