"""A REST sync's enrollments go straight to the run's spool, pulled by a thread beside the rest
(decision 0032): none of them comes through the record stream, a pass started again leaves
nothing of the first behind, and a page that fails fails the run with nothing deactivated."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.integration import springfield

from rostersync.domain.records import Enrollment
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, generate_district, mutations
from rostersync.simulator import faults as f
from rostersync.store import tables
from rostersync.sync.enrollment_spool import SID, EnrollmentSpool
from rostersync.sync.sources import OneRosterRestSource

KEY, SECRET = "stream-key", "stream-secret-2Jd"
PAGE_SIZE = 11


@pytest.fixture(scope="module")
def district() -> DistrictData:
    return generate_district(students=50, seed=37)


@pytest.fixture
def server(district: DistrictData) -> Iterator[SimulatorServer]:
    with springfield.serve(district, KEY, SECRET) as running:
        yield running


def source(server: SimulatorServer, **options: Any) -> OneRosterRestSource:
    settings: dict[str, Any] = {
        "page_size": PAGE_SIZE,
        "max_retries": 2,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    }
    return OneRosterRestSource(
        server.base_url(springfield.SLUG), KEY, SECRET, **{**settings, **options}
    )


def spooled_ids(spool: EnrollmentSpool) -> list[str]:
    return [row[SID] for _start, rows in spool.chunks() for row in rows]


def test_enrollments_reach_the_spool_and_not_the_record_stream(
    server: SimulatorServer, district: DistrictData
) -> None:
    pulled = source(server)
    with EnrollmentSpool(chunk=50) as spool:
        assert pulled.read_enrollments_aside(spool)
        records = list(pulled.records())
        ids = spooled_ids(spool)
        assert not spool.filling
    assert records and not any(isinstance(r, Enrollment) for r in records)
    # Every enrollment once, in the order the server sorts them (by sourcedId).
    assert ids == sorted(e["sourcedId"] for e in district.enrollments)
    assert pulled.stats.records["enrollments"] == len(district.enrollments)
    assert pulled.stats.records["users"] == len(district.users)


def test_a_pass_started_again_leaves_nothing_of_the_first_in_the_spool(
    server: SimulatorServer, district: DistrictData
) -> None:
    gone = [e["sourcedId"] for e in district.enrollments[::7]]

    def remove(data: DistrictData) -> DistrictData:
        return mutations.vanish(data, "enrollments", gone).data

    # After the third page of enrollments, some go away: the count no longer adds up.
    plan = server.set_faults(
        springfield.SLUG, f.change_mid_pull(remove, collection="enrollments", nth=3)
    )
    pulled = source(server)
    with EnrollmentSpool(chunk=50) as spool:
        pulled.read_enrollments_aside(spool)
        list(pulled.records())
        ids = spooled_ids(spool)
    assert plan.fired["change"] == 1
    assert ids == sorted(set(e["sourcedId"] for e in district.enrollments) - set(gone))


Snapshot = Callable[[], dict[str, int]]


@pytest.fixture
def synced(portal: Services, server: SimulatorServer) -> Snapshot:
    """The portal after a clean sync; returns a reader of its active rows per table."""
    springfield.onboard(portal, server, key=KEY, secret=SECRET)
    report = portal.runs.sync(springfield.SLUG, source=source(server))
    assert report.status == "succeeded", report.error

    def active() -> dict[str, int]:
        with portal.engine.connect() as conn:
            return {
                table.name: conn.execute(
                    select(func.count()).select_from(table).where(table.c.active)
                ).scalar_one()
                for table in (tables.students, tables.educators, tables.enrollments)
            }

    return active


@pytest.mark.parametrize("failing", ["users", "enrollments"])
def test_a_page_failing_mid_pull_fails_the_run_and_deactivates_nobody(
    portal: Services,
    server: SimulatorServer,
    district: DistrictData,
    synced: Snapshot,
    failing: str,
) -> None:
    before = synced()
    assert before["enrollments"] > 0
    # Students leave: a whole pull would deactivate them and their enrollments.
    leaving = [u["sourcedId"] for u in district.users if u["role"] == "student"][:5]
    server.tenant(springfield.SLUG).data = mutations.vanish(
        copy.deepcopy(district), "users", leaving
    ).data
    plan = server.set_faults(
        springfield.SLUG, f.server_error(503, times=100, collection=failing, nth=3)
    )
    report = portal.runs.sync(springfield.SLUG, source=source(server, max_retries=1))
    assert report.status == "failed"
    assert report.error is not None and failing in report.error
    assert plan.fired["5xx"] >= 2
    assert synced() == before
    # Once the server answers again, the same pull deactivates them.
    server.set_faults(springfield.SLUG)
    report = portal.runs.sync(springfield.SLUG, source=source(server))
    assert report.status == "succeeded", report.error
    assert synced()["students"] == before["students"] - len(leaving)
    assert synced()["enrollments"] < before["enrollments"]


def test_side_by_side_and_page_after_page_syncs_write_the_same_portal(
    portal: Services, server: SimulatorServer, district: DistrictData, fresh_db_url: Any
) -> None:
    springfield.onboard(portal, server, key=KEY, secret=SECRET)
    report = portal.runs.sync(springfield.SLUG, source=source(server, page_concurrency=4))
    assert report.status == "succeeded", report.error
    other = Services(portal.settings.model_copy(update={"database_url": fresh_db_url()}))
    try:
        other.init_db()
        springfield.onboard(other, server, key=KEY, secret=SECRET)
        alone = other.runs.sync(springfield.SLUG, source=source(server, page_concurrency=1))
        assert alone.status == "succeeded", alone.error
        assert alone.counts == report.counts
        assert alone.records_pulled == report.records_pulled
        assert report.counts["enrollment"]["created"] > 0
        for table in (tables.students, tables.educators, tables.enrollments, tables.classes):
            assert _rows(other, table) == _rows(portal, table)
    finally:
        other.close()


def _rows(portal: Services, table: Any) -> set[tuple[str, str, bool]]:
    with portal.engine.connect() as conn:
        return {
            (row.sourced_id, row.content_hash, row.active)
            for row in conn.execute(
                select(table.c.sourced_id, table.c.content_hash, table.c.active)
            )
        }
