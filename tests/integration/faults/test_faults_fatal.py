"""Faults the client cannot ride out: the run fails with a clear status and message, and the
portal is exactly as it was: no row written, nobody deactivated. Every fault runs on SQLite; the
"nothing written" guarantee is also checked on PostgreSQL for a retried and a restarted failure."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.integration.faults.conftest import (
    KEY,
    SECRET,
    TENANT,
    make_portal,
    onboard,
    row_counts,
    sync,
)
from tests.integration.portal_state import snapshot

from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, mutations
from rostersync.simulator import faults as f

AT = "2026-09-01T12:00:00Z"


Synced = tuple[Services, SimulatorServer]


def _synced(database_url: str, directory: Path, district: DistrictData) -> Iterator[Synced]:
    portal = make_portal(database_url, directory)
    with SimulatorServer([Tenant(TENANT, copy.deepcopy(district), KEY, SECRET)]) as server:
        onboard(portal, server.base_url(TENANT))
        first = sync(portal, server)
        assert first.status == "succeeded", first.error
        yield portal, server
    portal.close()


@pytest.fixture
def synced(tmp_path: Path, district: DistrictData) -> Iterator[Synced]:
    """A SQLite portal synced once from a well-behaved server."""
    yield from _synced(f"sqlite:///{tmp_path / 'portal.db'}", tmp_path, district)


@pytest.fixture
def synced_anywhere(
    fresh_db_url: Callable[[], str], tmp_path: Path, district: DistrictData
) -> Iterator[Synced]:
    """The same on SQLite and on PostgreSQL."""
    yield from _synced(fresh_db_url(), tmp_path, district)


def fail_and_compare(synced: Synced, district: DistrictData, fault: f.Fault) -> str:
    """Sync with `fault` after a student left; assert nothing changed; return the error."""
    portal, server = synced
    # Someone left meanwhile: a run that wrongly finished would deactivate them.
    leaver = next(u["sourcedId"] for u in district.users if u["role"] == "student")
    server.tenant(TENANT).data = mutations.vanish(district, "users", [leaver]).data
    before_rows, before = row_counts(portal), snapshot(portal)

    server.set_faults(TENANT, fault)
    report = sync(portal, server, max_retries=2)

    assert report.status == "failed"
    assert report.error is not None
    assert row_counts(portal) == before_rows
    assert snapshot(portal) == before
    (latest, *_) = portal.runs.recent(TENANT)
    assert latest.status == "failed" and latest.error == report.error
    return report.error


def _grow_every_time(data: DistrictData) -> DistrictData:
    return mutations.add_students(data, 1, at=AT).data


FATAL = [
    pytest.param(f.throttle(times=50), ("429", "still failing after 2 retries"), id="429-burst"),
    pytest.param(
        f.throttle(times=1, retry_after=3600, collection="users"),
        ("429", "asked us to wait 3600 s"),
        id="429-retry-after-too-long",
    ),
    pytest.param(
        f.server_error(503, times=50, collection="enrollments"),
        ("503", "/enrollments", "retried later"),
        id="503-persistent",
    ),
    pytest.param(f.slow(1.0, times=50, collection="users"), ("did not answer",), id="slow"),
    pytest.param(
        f.cut_mid_body(times=50, collection="users"), ("did not answer",), id="cut-mid-body"
    ),
    pytest.param(
        f.truncated_json(times=50, collection="classes"),
        ("JSON that breaks off",),
        id="truncated-json",
    ),
    pytest.param(
        f.wrong_total(3, times=500, collection="users"),
        ("received", "did not add up", "nothing will be deactivated"),
        id="wrong-total",
    ),
    pytest.param(
        f.change_mid_pull(_grow_every_time, times=500, collection="enrollments"),
        ("changed from", "did not add up", "nothing will be deactivated"),
        id="changing-mid-pull",
    ),
    pytest.param(
        f.expired_token(collection="courses"),
        ("401", "token has expired", "key and secret"),
        id="expired-token",
    ),
]


class TestFaultsThatFailTheRun:
    """A fault that outlives the retries fails the run with its reason and writes nothing."""

    @pytest.mark.parametrize(("fault", "phrases"), FATAL)
    def test_the_run_fails_and_the_portal_is_unchanged(
        self,
        synced: Synced,
        district: DistrictData,
        fault: f.Fault,
        phrases: tuple[str, ...],
    ) -> None:
        error = fail_and_compare(synced, district, fault)
        for phrase in phrases:
            assert phrase in error

    @pytest.mark.parametrize(
        "fault",
        [
            f.server_error(503, times=50, collection="enrollments"),
            f.change_mid_pull(_grow_every_time, times=500, collection="enrollments"),
        ],
        ids=["503-persistent", "changing-mid-pull"],
    )
    def test_nothing_is_written_on_either_database(
        self, synced_anywhere: Synced, district: DistrictData, fault: f.Fault
    ) -> None:
        fail_and_compare(synced_anywhere, district, fault)

    def test_retries_spent_before_failing_are_reported(self, synced: Synced) -> None:
        portal, server = synced
        server.set_faults(TENANT, f.server_error(502, times=50, collection="orgs"))
        report = sync(portal, server, max_retries=3)
        assert report.status == "failed"
        assert report.retries == 3 and report.requests == 4


class TestIncompleteIsNotEmpty:
    """A collection that is empty or did not arrive whole never reads as "everyone left"."""

    def test_an_empty_enrollments_collection_deactivates_no_enrollment(
        self, synced: Synced, district: DistrictData
    ) -> None:
        portal, server = synced
        before = snapshot(portal)["enrollments"]
        server.tenant(TENANT).data = mutations.vanish(
            district, "enrollments", [e["sourcedId"] for e in district.enrollments]
        ).data
        report = sync(portal, server)
        assert report.status == "succeeded", report.error
        assert report.counts["enrollment"]["deactivated"] == 0
        assert snapshot(portal)["enrollments"] == before

    def test_users_cut_short_by_a_lying_total_deactivate_nobody(self, synced: Synced) -> None:
        """The server claims fewer users than it has, then serves a short collection."""
        portal, server = synced
        before = row_counts(portal)
        server.set_faults(TENANT, f.wrong_total(-30, times=500, collection="users"))
        report = sync(portal, server)
        assert report.status == "failed"
        assert report.error is not None and "users" in report.error
        assert row_counts(portal) == before
