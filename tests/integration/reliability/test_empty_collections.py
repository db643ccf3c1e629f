"""An empty collection where the district has people is a warning on the run, never silent.

A roster server that suddenly answers with no users or no enrollments is far more often a broken
share than a district that lost everyone. Nothing is deactivated (an empty collection is never a
snapshot); the run says so with an `empty_collection` warning per kind, stored as an open issue
the data manager sees until a full pull brings that kind back. The simulator over real HTTP into
SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from tests.integration import springfield

from rostersync.domain.issues import Severity
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, generate_district, mutations

KEY, SECRET = "empty-key", "empty-secret-7Rw"
AT = "2026-09-01T12:00:00Z"


@pytest.fixture(scope="module")
def district_data() -> DistrictData:
    return generate_district(students=40, seed=5)


@pytest.fixture
def server(district_data: DistrictData) -> Iterator[SimulatorServer]:
    with springfield.serve(district_data, KEY, SECRET) as srv:
        yield srv


def onboard(portal: Services, server: SimulatorServer) -> None:
    springfield.onboard(
        portal,
        server,
        key=KEY,
        secret=SECRET,
        **springfield.LISTED_WITH_METADATA,
        data_manager_emails=["data.manager@springfield.example"],
    )


def empty_warnings(issues: Any) -> dict[str, str]:
    """The run's `empty_collection` issues: entity → OneRoster collection named."""
    return {i.entity: i.field for i in issues if i.code == "empty_collection"}


def active_counts(portal: Services) -> dict[str, int]:
    return {kind: c["active"] for kind, c in portal.districts.counts("springfield").items()}


@pytest.fixture
def synced(portal: Services, server: SimulatorServer) -> Services:
    onboard(portal, server)
    first = portal.runs.sync("springfield")
    assert first.status == "succeeded", first.error
    assert empty_warnings(first.issues) == {}
    return portal


class TestEmptyCollectionWarns:
    def test_no_users_and_no_enrollments_warn_for_each_kind_and_change_nothing(
        self, synced: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        before = active_counts(synced)
        server.tenant("springfield").data = dataclasses.replace(
            district_data, users=[], enrollments=[]
        )
        report = synced.runs.sync("springfield")
        assert report.status == "succeeded", report.error
        assert empty_warnings(report.issues) == {
            "educator": "users",
            "student": "users",
            "enrollment": "enrollments",
        }
        assert all(
            i.severity is Severity.WARNING for i in report.issues if i.code == "empty_collection"
        )
        by_kind = {i.entity: i for i in report.issues if i.code == "empty_collection"}
        assert f"{before['students']} are active" in by_kind["student"].message
        assert "none was deactivated" in by_kind["student"].message
        assert "shared" in by_kind["student"].fix
        # The run's stored counts carry the warnings (what the run page and email show)...
        run = synced.runs.get(report.run_id)
        assert run.status == "succeeded"
        assert run.counts["issues"]["warnings"] >= 3
        # ...and the data manager finds them among the district's open issues.
        assert set(empty_warnings(synced.runs.issues(report.run_id))) == set(by_kind)
        assert set(empty_warnings(synced.runs.open_issues("springfield"))) == set(by_kind)
        assert active_counts(synced) == before
        # The data manager's summary email says so too.
        assert synced.runs.notify(report.run_id) == ["summary"]
        (sent,) = synced.settings.resolved_outbox_dir.glob("*.eml")
        body = message_from_bytes(sent.read_bytes(), policy=policy.default)
        text = body.get_body(preferencelist=("plain",))
        assert text is not None
        assert "[empty_collection, warning, 3 records]" in text.get_content()

    def test_the_warning_closes_when_a_full_pull_brings_the_kind_back(
        self, synced: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        server.tenant("springfield").data = dataclasses.replace(district_data, enrollments=[])
        emptied = synced.runs.sync("springfield")
        assert empty_warnings(emptied.issues) == {"enrollment": "enrollments"}
        assert empty_warnings(synced.runs.open_issues("springfield")) == {
            "enrollment": "enrollments"
        }
        server.tenant("springfield").data = copy.deepcopy(district_data)
        back = synced.runs.sync("springfield")
        assert back.status == "succeeded"
        assert empty_warnings(back.issues) == {}
        assert empty_warnings(synced.runs.open_issues("springfield")) == {}

    def test_a_preview_of_an_empty_pull_carries_the_warning_too(
        self, synced: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        server.tenant("springfield").data = dataclasses.replace(district_data, enrollments=[])
        report = synced.runs.preview("springfield")
        assert report.status == "previewed"
        assert empty_warnings(report.issues) == {"enrollment": "enrollments"}
        assert report.plan["issues"]["count"] >= 1
        assert "empty_collection" in {i["code"] for i in report.plan["issues"]["items"]}


class TestNoFalseAlarm:
    def test_a_first_sync_of_an_empty_roster_does_not_warn(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        server.tenant("springfield").data = dataclasses.replace(
            district_data, users=[], enrollments=[]
        )
        onboard(portal, server)
        report = portal.runs.sync("springfield")
        assert report.status == "succeeded", report.error
        assert empty_warnings(report.issues) == {}

    def test_a_delta_with_nothing_new_does_not_warn(self, synced: Services) -> None:
        report = synced.runs.delta("springfield")
        assert report.status == "succeeded", report.error
        assert report.records_pulled.get("users", 0) == 0
        assert empty_warnings(report.issues) == {}


class TestSafeguardsStillHold:
    def test_a_roster_cut_to_a_few_students_is_held_and_warns_of_the_empty_enrollments(
        self, synced: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        """Not empty but nearly: the deactivation threshold holds the plan, as it always did."""
        students = [u["sourcedId"] for u in district_data.users if u["role"] == "student"]
        before = active_counts(synced)
        step = mutations.vanish(district_data, "users", students[3:])
        server.tenant("springfield").data = dataclasses.replace(step.data, enrollments=[])
        report = synced.runs.sync("springfield")
        assert report.status == "held"
        assert report.reason is not None and "students" in report.reason
        assert empty_warnings(report.issues) == {"enrollment": "enrollments"}
        assert active_counts(synced) == before
