"""Faults the client rides out: the run succeeds, retries are counted, and the portal holds
exactly what a fault-free sync gives."""

from __future__ import annotations

import math
import time

import pytest
from tests.integration.faults.conftest import PAGE_SIZE, TENANT, CleanSync, sync
from tests.integration.portal_state import snapshot

from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, mutations
from rostersync.simulator import faults as f

AT = "2026-09-01T12:00:00Z"


def pages_needed(data: DistrictData) -> int:
    """Requests a fault-free pull of `data` takes: one per page of each collection."""
    sizes = (len(data.collection(c)) for c in ("orgs", "academicSessions", "courses"))
    rest = (len(data.collection(c)) for c in ("classes", "users", "enrollments"))
    return sum(max(1, math.ceil(n / PAGE_SIZE)) for n in (*sizes, *rest))


class TestRetriedFaults:
    """Throttling, server errors, timeouts and broken bodies are retried until the data arrives."""

    @pytest.mark.parametrize(
        "fault",
        [
            f.throttle(times=3, collection="users"),
            f.server_error(500, times=2, collection="enrollments", nth=3),
            f.server_error(502, times=2, collection="classes"),
            f.server_error(503, times=4, collection="orgs"),
            f.slow(1.0, collection="users", nth=2),
            f.cut_mid_body(times=2, collection="enrollments", nth=2),
            f.truncated_json(collection="users"),
        ],
        ids=lambda fault: f"{fault.kind}-{fault.status if fault.kind == '5xx' else fault.times}",
    )
    def test_the_run_completes_with_the_clean_contents_and_counts_its_retries(
        self,
        portal: Services,
        server: SimulatorServer,
        district: DistrictData,
        clean_sync: CleanSync,
        fault: f.Fault,
    ) -> None:
        plan = server.set_faults(TENANT, fault)
        report = sync(portal, server)
        assert report.status == "succeeded", report.error
        assert plan.fired[fault.kind] == fault.times
        assert report.retries == fault.times
        assert report.requests == pages_needed(district) + fault.times
        assert snapshot(portal) == clean_sync(district)

    def test_retry_after_is_honoured_over_the_shorter_backoff(
        self, portal: Services, server: SimulatorServer, district: DistrictData
    ) -> None:
        server.set_faults(TENANT, f.throttle(times=2, retry_after=0.3, collection="courses"))
        started = time.monotonic()
        report = sync(portal, server)  # backoff alone would wait at most 0.05 s per retry
        assert report.status == "succeeded", report.error
        assert report.retries == 2
        assert time.monotonic() - started >= 0.6

    def test_a_slow_answer_within_the_timeout_is_simply_waited_for(
        self, portal: Services, server: SimulatorServer, district: DistrictData
    ) -> None:
        plan = server.set_faults(TENANT, f.slow(0.2, times=2, collection="users"))
        report = sync(portal, server)
        assert report.status == "succeeded", report.error
        assert plan.fired["slow"] == 2
        assert report.retries == 0

    def test_the_service_settings_timeout_and_retries_survive_a_fault(
        self,
        portal: Services,
        server: SimulatorServer,
        district: DistrictData,
        clean_sync: CleanSync,
    ) -> None:
        """Through the district's own configured source, not one built by the test."""
        plan = server.set_faults(TENANT, f.slow(1.0, collection="orgs"))
        report = portal.runs.sync(TENANT)
        assert report.status == "succeeded", report.error
        assert plan.fired["slow"] == 1 and report.retries == 1
        assert snapshot(portal) == clean_sync(district)


class TestCountsThatDoNotAddUp:
    """A total that changes or disagrees mid-pull restarts that collection once from offset 0."""

    def test_a_wrong_total_on_one_page_restarts_the_pull_and_completes(
        self,
        portal: Services,
        server: SimulatorServer,
        district: DistrictData,
        clean_sync: CleanSync,
    ) -> None:
        users_pages = math.ceil(len(district.users) / PAGE_SIZE)
        assert users_pages >= 2
        server.set_faults(TENANT, f.wrong_total(7, collection="users", nth=2))
        report = sync(portal, server)
        assert report.status == "succeeded", report.error
        # Pages 1 and 2 of users were fetched, then the whole collection again.
        assert report.requests == pages_needed(district) + 2
        assert snapshot(portal) == clean_sync(district)

    def test_students_added_between_pages_are_all_provisioned(
        self,
        portal: Services,
        server: SimulatorServer,
        district: DistrictData,
        clean_sync: CleanSync,
    ) -> None:
        grown = mutations.add_students(district, 3, at=AT).data
        server.set_faults(TENANT, f.change_mid_pull(lambda _old: grown, collection="users", nth=1))
        report = sync(portal, server)
        assert report.status == "succeeded", report.error
        assert report.counts["student"]["created"] + report.counts["student"]["held"] == (
            district.counts()["students"] + 3
        )
        assert snapshot(portal) == clean_sync(grown)

    def test_a_record_removed_ahead_of_the_pull_is_not_fetched_and_nothing_is_skipped(
        self,
        portal: Services,
        server: SimulatorServer,
        district: DistrictData,
        clean_sync: CleanSync,
    ) -> None:
        # The last user in sourcedId order, so it is removed before its page is served.
        last = max(u["sourcedId"] for u in district.users if u["role"] == "student")
        shrunk = mutations.vanish(district, "users", [last]).data
        server.set_faults(TENANT, f.change_mid_pull(lambda _old: shrunk, collection="users", nth=1))
        report = sync(portal, server)
        assert report.status == "succeeded", report.error
        assert snapshot(portal) == clean_sync(shrunk)
