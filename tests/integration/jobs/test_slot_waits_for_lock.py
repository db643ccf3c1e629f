"""A scheduled slot that meets another sync's live lock waits for it, says so, and then runs.

Before decision 0020 it ended `already_running` with no run and no retry, so that day's
scheduled sync silently did not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.integration.jobs.conftest import onboard_daily, serve
from tests.integration.reliability.processes import KEY as RKEY
from tests.integration.reliability.processes import SECRET as RSECRET
from tests.integration.reliability.processes import make_world, wait_for

from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue
from rostersync.jobs.scheduler import tick
from rostersync.jobs.tasks import SlotOutcome, run_slot
from rostersync.notify.notifier import Notifier
from rostersync.notify.senders import MemorySender
from rostersync.services import Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.store import jobs as store_jobs
from rostersync.store.jobs_tables import sync_slots
from rostersync.store.locks import DistrictLock

KEY, SECRET = "provo-key", "provo-secret-33k"


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with serve("provo", seed=19, key=KEY, secret=SECRET) as server:
        yield server


def test_a_slot_that_meets_a_live_lock_is_queued_again_and_runs_once_the_lock_is_free(
    portal: Services, simulator: SimulatorServer
) -> None:
    district = onboard_daily(portal, simulator, "provo", key=KEY, secret=SECRET)
    slot_at = datetime.now(UTC).replace(microsecond=0)
    with portal.engine.begin() as conn:
        store_jobs.enqueue_slot(
            conn, district_id=district.id, due_slot=slot_at, trigger="scheduled", now=slot_at
        )
    notifier = Notifier(portal.engine, portal.settings, MemorySender())
    # A manual sync (another live process, or this one) holds the district.
    manual = DistrictLock(portal.engine, district.id)
    manual_run = manual.acquire(trigger="manual", mode="apply")
    try:
        met = run_slot(portal, notifier, district_id=district.id, due_slot=slot_at)
        assert met.outcome is SlotOutcome.WAITING_FOR_LOCK
        with portal.engine.connect() as conn:
            slot = store_jobs.get_slot(conn, district.id, slot_at)
        assert slot is not None
        assert (slot.status, slot.outcome) == ("queued", "waiting_for_lock")
        assert slot.attempts == 0  # waiting is not an attempt at the sync
        assert [r.id for r in portal.runs.recent(district.id)] == [manual_run]
    finally:
        manual.release()
    again = run_slot(portal, notifier, district_id=district.id, due_slot=slot_at)
    assert (again.outcome, again.status) == (SlotOutcome.DONE, "succeeded")
    with portal.engine.connect() as conn:
        slot = store_jobs.get_slot(conn, district.id, slot_at)
    assert slot is not None
    assert (slot.status, slot.outcome, slot.run_id) == ("finished", "succeeded", again.run_id)
    assert slot.attempts == 1


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)  # the queue is the same on both
def test_through_a_worker_the_waiting_slot_runs_as_soon_as_the_lock_is_free(
    fresh_db_url: Callable[[], str], tmp_path: Path
) -> None:
    data = generate_district(students=15, seed=21)
    with SimulatorServer([Tenant(name="orem", data=data, key=RKEY, secret=RSECRET)]) as server:
        world = make_world(fresh_db_url(), tmp_path, server, "orem")
        try:
            queue = JobQueue(Settings(**world.values), service=world.portal, periodic=False)
            manual = DistrictLock(world.engine, world.district_id)
            manual.acquire(trigger="manual", mode="apply")
            try:
                # A week ahead: a weekday 06:00 Chicago slot has passed since onboarding.
                now = datetime.now(UTC) + timedelta(days=7)
                assert len(tick(world.portal, now, enqueue=queue.enqueue_sync)) == 1
                world.start(["worker", "--no-periodic"], name="worker")

                def waiting() -> bool:
                    with world.engine.connect() as conn:
                        (slot,) = conn.execute(
                            select(sync_slots).where(sync_slots.c.district_id == world.district_id)
                        ).all()
                    return slot.outcome == "waiting_for_lock"

                wait_for(waiting, seconds=60, what="the slot to meet the lock")
            finally:
                manual.release()

            def finished() -> bool:
                with world.engine.connect() as conn:
                    (slot,) = conn.execute(
                        select(sync_slots).where(sync_slots.c.district_id == world.district_id)
                    ).all()
                return slot.status == "finished"

            wait_for(finished, seconds=60, what="the slot to run once the lock is free")
            with world.engine.connect() as conn:
                (slot,) = conn.execute(
                    select(sync_slots).where(sync_slots.c.district_id == world.district_id)
                ).all()
            assert slot.outcome == "succeeded"
        finally:
            world.stop_all()
            world.portal.close()
