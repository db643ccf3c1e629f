"""A run says which record its held records wait for, and tells a reference to a record the
district marked for deletion as what it is: a simulated district over real HTTP, through the whole
pipeline (enrollments streamed), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration import springfield

from rostersync.cli import render
from rostersync.domain.references import waiting_key
from rostersync.domain.validate import POINTS_AT_DELETED, WAITING
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, generate_district, mutations
from rostersync.sync.sources import OneRosterRestSource

KEY, SECRET = "waiting-key", "waiting-secret-7Rt"


@pytest.fixture(scope="module")
def district() -> DistrictData:
    data = generate_district(students=40, seed=37, bad_records=True)
    # One class the district deleted while its enrollments still come as active.
    deleted = data.classes[0]["sourcedId"]
    return mutations.mark_tobedeleted(data, "classes", [deleted], at="2026-12-01T08:00:00Z").data


@pytest.fixture
def server(district: DistrictData) -> Iterator[SimulatorServer]:
    with springfield.serve(district, KEY, SECRET) as running:
        yield running


def test_held_records_name_what_they_wait_for_and_deleted_targets_are_told(
    portal: Services, server: SimulatorServer, district: DistrictData
) -> None:
    springfield.onboard(portal, server, key=KEY, secret=SECRET)
    source = OneRosterRestSource(server.base_url("springfield"), KEY, SECRET, page_size=50)
    report = portal.runs.sync("springfield", source=source)
    assert report.status == "succeeded", report.error

    classes = {c["sourcedId"]: c for c in district.classes}
    deleted = {sid for sid, c in classes.items() if c.get("status") == "tobedeleted"}
    in_deleted = [e for e in district.enrollments if e["class"]["sourcedId"] in deleted]
    assert in_deleted
    assert report.skipped[f"enrollment_{POINTS_AT_DELETED}"] == len(in_deleted)
    told = [i for i in report.issues if i.code == "deleted_class"]
    assert len(told) == len(in_deleted)
    assert all("marked for deletion" in i.message and "Share" not in i.fix for i in told)

    # Each student held for a missing grade is named, their enrollments counted under them.
    users = {u["sourcedId"]: u for u in district.users}
    ungraded = [p.sourced_id for p in district.planted if p.problem == "missing_grade"]
    assert ungraded
    for sid in ungraded:
        user = users[sid]
        waiting = [
            e
            for e in district.enrollments
            if e["user"]["sourcedId"] == sid
            and e["class"]["sourcedId"] in classes
            and e["class"]["sourcedId"] not in deleted
        ]
        name = f"student {user['givenName']} {user['familyName']} ({sid})"
        assert report.skipped.get(waiting_key("enrollment", name), 0) == len(waiting), name
    details = {k: v for k, v in report.skipped.items() if k.startswith(f"enrollment_{WAITING}:")}
    assert sum(details.values()) == report.skipped[f"enrollment_{WAITING}"]

    with render.console.capture() as captured:
        render.print_report(report, title="Sync")
    out = captured.get()
    first = users[ungraded[0]]
    assert "Waiting for another record's fix: " in out
    assert f"student {first['givenName']} {first['familyName']} ({ungraded[0]})" in out
    skipped_line = next((line for line in out.splitlines() if "Skipped on purpose" in line), "")
    assert "waiting" not in skipped_line
