"""The district sync lock follows its holder's life, on SQLite and PostgreSQL (`store.locks`).

In one process: a live holder refuses a second sync; a holder that is gone (its PostgreSQL
session closed; on SQLite its pid dead, or its heartbeat stale on another host) is taken over
and its run marked `abandoned` with the phase it had recorded.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from tests.integration.conftest import DISTRICT_ANSWERS

from rostersync.domain.questionnaire import Questionnaire
from rostersync.errors import SyncInProgress
from rostersync.services import Services
from rostersync.store import progress as store_progress
from rostersync.store.districts import create_district
from rostersync.store.locks import STALE_AFTER, DistrictLock, Holder
from rostersync.store.workflow_tables import sync_locks


@pytest.fixture
def district_id(portal: Services) -> str:
    with portal.engine.begin() as conn:
        return create_district(conn, portal.box, Questionnaire(**DISTRICT_ANSWERS)).id


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _record_phase(portal: Services, district_id: str, run_id: str, phase: str) -> None:
    with portal.engine.begin() as conn:
        store_progress.save_progress(
            conn,
            run_id=run_id,
            district_id=district_id,
            phase=phase,
            collection=None,
            records={},
            now=datetime.now(UTC),
        )


def test_a_live_holder_refuses_a_second_sync_and_no_run_is_recorded(
    portal: Services, district_id: str
) -> None:
    first = DistrictLock(portal.engine, district_id)
    run_id = first.acquire(trigger="manual", mode="apply")
    try:
        with pytest.raises(SyncInProgress, match=f"already running \\(run {run_id}"):
            DistrictLock(portal.engine, district_id).acquire(trigger="manual", mode="apply")
        assert [r.id for r in portal.runs.recent(district_id)] == [run_id]
    finally:
        first.release()
    second = DistrictLock(portal.engine, district_id)
    second.acquire(trigger="manual", mode="apply")
    second.release()
    assert portal.runs.get(run_id).status == "running"  # released, never abandoned


def test_a_dead_holders_lock_is_taken_over_and_its_run_abandoned_at_its_phase(
    portal: Services, district_id: str
) -> None:
    dead = DistrictLock(portal.engine, district_id)
    killed = dead.acquire(trigger="scheduled", mode="apply")
    _record_phase(portal, district_id, killed, "validating")
    # How its death looks from outside: the heartbeat stops, and then
    dead._stop.set()
    if dead._session is not None:
        dead._session.invalidate()  # PostgreSQL: the session ends, and the server frees the lock
    with portal.engine.begin() as conn:  # SQLite: its pid is gone
        conn.execute(update(sync_locks).values(pid=_dead_pid()))
    taker = DistrictLock(portal.engine, district_id)
    run_id = taker.acquire(trigger="manual", mode="apply")
    taker.release()
    old = portal.runs.get(killed)
    assert old.status == "abandoned"
    assert old.error is not None and "while validating" in old.error
    assert old.finished_at is not None and old.finished_at <= portal.runs.get(run_id).started_at


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_on_sqlite_a_holder_on_another_host_is_dead_once_its_heartbeat_is_stale(
    portal: Services, district_id: str
) -> None:
    elsewhere = Holder(host="another-host.example", pid=1)
    other = DistrictLock(portal.engine, district_id, holder=elsewhere)
    killed = other.acquire(trigger="manual", mode="apply")
    other._stop.set()
    with pytest.raises(SyncInProgress):
        DistrictLock(portal.engine, district_id).acquire(trigger="manual", mode="apply")
    stale = datetime.now(UTC) - STALE_AFTER - timedelta(seconds=1)
    with portal.engine.begin() as conn:
        conn.execute(update(sync_locks).values(heartbeat_at=stale))
    taker = DistrictLock(portal.engine, district_id)
    taker.acquire(trigger="manual", mode="apply")
    taker.release()
    assert portal.runs.get(killed).status == "abandoned"


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_on_sqlite_a_live_holder_keeps_its_lock_while_its_heartbeat_waits(
    portal: Services, district_id: str
) -> None:
    holder = DistrictLock(portal.engine, district_id)
    holder.acquire(trigger="manual", mode="apply")
    try:
        late = datetime.now(UTC) - STALE_AFTER * 3  # behind another district's long write
        with portal.engine.begin() as conn:
            conn.execute(update(sync_locks).values(heartbeat_at=late))
        with pytest.raises(SyncInProgress):
            DistrictLock(portal.engine, district_id).acquire(trigger="manual", mode="apply")
    finally:
        holder.release()


def test_a_purge_is_refused_by_a_live_sync_and_takes_a_dead_syncs_lock_at_once(
    portal: Services, district_id: str
) -> None:
    sync = DistrictLock(portal.engine, district_id)
    sync.acquire(trigger="manual", mode="apply")
    slug = DISTRICT_ANSWERS["slug"]
    with pytest.raises(SyncInProgress, match="already running"):
        portal.privacy.purge_district(slug, confirm=slug, actor="staff:1", reason="contract ended")
    # The sync dies (as in the test above): before 0020 the purge was refused for six hours.
    sync._stop.set()
    if sync._session is not None:
        sync._session.invalidate()
    with portal.engine.begin() as conn:
        conn.execute(update(sync_locks).values(pid=_dead_pid()))
    disposal = portal.privacy.purge_district(
        slug, confirm=slug, actor="staff:1", reason="contract ended"
    )
    assert disposal.rows["sync_locks"] == 1
