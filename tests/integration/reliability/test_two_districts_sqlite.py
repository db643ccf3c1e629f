"""Two districts sync at once on the embedded default (SQLite), as two real processes.

SQLite has one writer. One district's sync holds it for longer than SQLite's usual busy timeout
(here: held at `writing`, inside its write transaction) while another district's sync wants to
write its plan: the second queues for the writer and both succeed, with the same rows a sync of
each alone leaves. Before decision 0020 the second failed with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.conftest import DatabaseMaker
from tests.integration.reliability.processes import (
    KEY,
    SECRET,
    CrashWorld,
    closing,
    make_world,
    onboard,
    snapshot,
    wait_for,
)

from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.store.db import SQLITE_BUSY_TIMEOUT_MS

EAST, WEST = "east", "west"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    tenants = [
        Tenant(name=EAST, data=generate_district(students=25, seed=51), key=KEY, secret=SECRET),
        Tenant(name=WEST, data=generate_district(students=25, seed=52), key=KEY, secret=SECRET),
    ]
    with SimulatorServer(tenants) as srv:
        yield srv


@pytest.fixture
def world(
    fresh_db_url: DatabaseMaker, tmp_path: Path, server: SimulatorServer
) -> Iterator[CrashWorld]:
    yield from closing(make_world(fresh_db_url(), tmp_path / "portal", server, EAST))


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_two_districts_sync_at_once_on_sqlite_the_second_queues_for_the_writer(
    world: CrashWorld, fresh_db_url: DatabaseMaker, tmp_path: Path, server: SimulatorServer
) -> None:
    onboard(world.portal, server, WEST)
    west_id = next(d.id for d in world.portal.districts.list_all() if d.slug == WEST)
    # West has its run and lock, has pulled and validated, and is about to write.
    west = world.start(["sync", WEST, "--json"], pause="planning", name="west")
    wait_for(world.marker("planning").exists, seconds=60, what="west to reach planning")
    # East takes SQLite's writer and keeps it.
    east = world.start(["sync", EAST, "--json"], pause="writing", name="east")
    world.paused(east, "writing")
    world.marker("planning").unlink()  # west goes on, to the writer east holds
    held = SQLITE_BUSY_TIMEOUT_MS / 1000 + 2
    with pytest.raises(AssertionError, match="timed out"):
        # West must still be waiting its turn after the usual busy timeout.
        wait_for(lambda: west.poll() is not None, seconds=held, what="west to end")
    world.marker("writing").unlink()
    assert east.wait(timeout=120) == 0, world.output("east")
    assert west.wait(timeout=120) == 0, world.output("west")
    for district_id in (world.district_id, west_id):
        assert [r.status for r in world.portal.runs.recent(district_id)] == ["succeeded"]
    assert world.lock_row() is None

    alone = make_world(fresh_db_url(), tmp_path / "alone", server, EAST)
    try:
        onboard(alone.portal, server, WEST)
        for slug in (EAST, WEST):
            assert alone.portal.runs.sync(slug).status == "succeeded"
        ids = {d.slug: d.id for d in alone.portal.districts.list_all()}
        assert snapshot(world.portal, world.district_id) == snapshot(alone.portal, ids[EAST])
        assert snapshot(world.portal, west_id) == snapshot(alone.portal, ids[WEST])
    finally:
        alone.portal.close()
