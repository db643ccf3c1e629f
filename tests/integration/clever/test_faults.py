"""Clever misbehaving mid-pull: what can be waited out is, through the retry transport; what
cannot fails the run with a clear message and the portal exactly as it was."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.clever.conftest import (
    PortalMaker,
    district_id,
    make_portal,
    onboard,
    settings_for,
    sync,
)
from tests.integration.clever.portal_view import portal_view
from tests.integration.portal_state import snapshot

from rostersync.services import Services
from rostersync.simulator import DistrictData
from rostersync.simulator import faults as f
from rostersync.simulator.clever import CleverSimulator


@pytest.mark.parametrize(
    "fault",
    [
        f.throttle(times=3, retry_after=0.05, collection="users"),
        f.server_error(502, times=2, collection="sections"),
        f.truncated_json(times=1, collection="users"),
        f.cut_mid_body(times=1, collection="schools"),
        f.expired_token(times=1, collection="users"),
    ],
    ids=["429 burst", "5xx", "truncated page", "cut page", "token refused once"],
)
def test_a_passing_fault_is_retried_to_the_same_portal_as_a_clean_pull(
    make_clever_portal: PortalMaker, clever: CleverSimulator, fault: f.Fault
) -> None:
    clean = make_clever_portal()
    onboard(clean, district_id(clever))
    assert sync(clean).status == "succeeded"

    faulty = make_clever_portal()
    onboard(faulty, district_id(clever))
    plan = clever.set_faults(district_id(clever), fault)
    report = sync(faulty)

    assert report.status == "succeeded", report.error
    assert plan.fired[fault.kind] == fault.times
    assert report.retries >= fault.times
    assert portal_view(faulty) == portal_view(clean)


def test_an_answer_slower_than_the_timeout_is_asked_again_to_the_same_portal(
    make_clever_portal: PortalMaker, clever: CleverSimulator
) -> None:
    clean = make_clever_portal()
    onboard(clean, district_id(clever))
    assert sync(clean).status == "succeeded"

    faulty = make_clever_portal(http_timeout_seconds=0.3)
    onboard(faulty, district_id(clever))
    plan = clever.set_faults(district_id(clever), f.slow(1.0, times=1, collection="users"))
    report = sync(faulty)

    assert report.status == "succeeded", report.error
    assert plan.fired["slow"] == 1
    assert report.retries >= 1
    assert portal_view(faulty) == portal_view(clean)


def left_one_student(clever: CleverSimulator, data: DistrictData) -> str:
    """A student leaves in Clever; returns the student's ID (a run that wrongly finished would
    deactivate them)."""
    changed = copy.deepcopy(data)
    student = next(u for u in changed.users if u["role"] == "student")
    changed.users.remove(student)
    clever.district(district_id(clever)).data = changed
    return str(student["identifier"])


@pytest.fixture
def synced(make_clever_portal: PortalMaker, clever: CleverSimulator) -> Services:
    """A portal synced once from a well-behaved Clever, retrying at most once from now on."""
    portal = make_clever_portal(http_max_retries=1)
    onboard(portal, district_id(clever))
    first = sync(portal)
    assert first.status == "succeeded", first.error
    return portal


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (f.truncated_json(times=5, collection="users"), "did not arrive whole"),
        (f.cut_mid_body(times=5, collection="sections"), "did not arrive whole"),
        (f.server_error(503, times=5, collection="terms"), "still failing after 1 retries"),
        (f.throttle(times=5, retry_after=0.01, collection="users"), "HTTP 429"),
    ],
    ids=["truncated page", "cut page", "5xx", "429 burst"],
)
def test_a_fault_that_outlasts_the_retries_fails_the_run_and_writes_nothing(
    synced: Services,
    clever: CleverSimulator,
    district_data: DistrictData,
    fault: f.Fault,
    message: str,
) -> None:
    before = snapshot(synced)
    student_id = left_one_student(clever, district_data)
    clever.set_faults(district_id(clever), fault)

    report = sync(synced)

    assert report.status == "failed"
    assert report.error is not None and message in report.error, report.error
    assert snapshot(synced) == before
    assert any(s[3] == student_id for s in portal_view(synced).students), "nobody deactivated"


def test_a_token_revoked_mid_pull_fails_the_run_saying_the_district_disconnected(
    synced: Services, clever: CleverSimulator, district_data: DistrictData
) -> None:
    before = snapshot(synced)
    left_one_student(clever, district_data)
    # The token is refused from the sections on, and re-reading the app's tokens does not help.
    clever.set_faults(district_id(clever), f.expired_token(times=10, collection="sections"))

    report = sync(synced)

    assert report.status == "failed"
    assert report.error is not None
    assert "refused the district's token" in report.error
    assert "share the app again" in report.error
    assert snapshot(synced) == before


def test_a_district_that_disconnected_the_app_is_named_before_anything_is_read(
    synced: Services, clever: CleverSimulator
) -> None:
    before = snapshot(synced)
    clever.revoke(district_id(clever))
    reads = clever.request_count()

    report = sync(synced)

    assert report.status == "failed"
    assert report.error is not None and "has not shared with the app in Clever" in report.error
    assert clever.request_count() == reads
    assert snapshot(synced) == before


def test_a_district_that_reconnected_mid_pull_is_read_on_with_its_new_token(
    portal: Services, clever: CleverSimulator
) -> None:
    here = district_id(clever)

    def reconnect(data: DistrictData) -> DistrictData:
        clever.reconnect(here)  # the token the pull holds stops working
        return data

    clever.set_faults(here, f.change_mid_pull(reconnect, collection="courses"))

    report = sync(portal)

    assert report.status == "succeeded", report.error
    assert report.retries >= 1  # the refused request, sent again with the new token
    assert portal_view(portal).enrollments


def test_on_every_backend_a_failed_pull_writes_nothing_and_a_resync_changes_nothing(
    fresh_db_url: Callable[[], str],
    tmp_path: Path,
    clever: CleverSimulator,
    district_data: DistrictData,
) -> None:
    portal = make_portal(settings_for(clever, tmp_path, fresh_db_url(), http_max_retries=1))
    try:
        onboard(portal, district_id(clever))
        assert sync(portal).status == "succeeded"
        before = snapshot(portal)
        noop = sync(portal)
        assert noop.status == "succeeded" and noop.change_count == 0
        assert snapshot(portal) == before

        left_one_student(clever, district_data)
        clever.set_faults(district_id(clever), f.truncated_json(times=5, collection="users"))
        failed = sync(portal)

        assert failed.status == "failed"
        assert snapshot(portal) == before
    finally:
        portal.close()
