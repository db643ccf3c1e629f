"""A pull restarted because records disappeared between its pages starts from nothing.

The simulator removes students right after it served the first page of users, so those students
were on a page the client had already received. The count no longer adds up, the client pulls the
users again from offset 0, and nothing of the first pass may survive: the removed students end
inactive, as a fault-free sync of the smaller district leaves everyone else.
"""

from __future__ import annotations

import pytest
from tests.integration.faults.conftest import KEY, PAGE_SIZE, SECRET, TENANT, CleanSync, sync
from tests.integration.portal_state import Snapshot, snapshot

from rostersync.oneroster.auth import OAuth1Auth
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.paging import CountMismatch
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, generate_district, mutations
from rostersync.simulator import faults as f

REMOVED = 10


@pytest.fixture(scope="module")
def district() -> DistrictData:
    # Big enough that ten leavers stay under the default deactivation safeguard (10%).
    return generate_district(students=150, seed=29, bad_records=True)


def first_page_students(district: DistrictData, synced: Snapshot) -> list[str]:
    """Students served on the first page of users (sourcedId order) that the portal holds
    active."""
    first_page = sorted(u["sourcedId"] for u in district.users)[:PAGE_SIZE]
    students = {u["sourcedId"] for u in district.users if u["role"] == "student"}
    return [
        sid for sid in first_page if sid in students and synced["students"].get(sid, ("", False))[1]
    ][:REMOVED]


def test_students_removed_behind_the_pull_are_deactivated_not_kept_from_stale_pages(
    portal: Services,
    server: SimulatorServer,
    district: DistrictData,
    clean_sync: CleanSync,
) -> None:
    first = sync(portal, server)
    assert first.status == "succeeded", first.error
    removed = first_page_students(district, snapshot(portal))
    assert len(removed) == REMOVED, "the district's first page of users holds ten students"
    shrunk = mutations.vanish(district, "users", removed).data
    # Right after the first page of users was served: the client already holds those students.
    server.set_faults(TENANT, f.change_mid_pull(lambda _old: shrunk, collection="users", nth=1))

    report = sync(portal, server)

    assert report.status == "succeeded", report.error
    assert report.counts["student"]["deactivated"] == REMOVED
    after = snapshot(portal)
    assert {sid: after["students"][sid][1] for sid in removed} == dict.fromkeys(removed, False)
    # Everything else is exactly what a fault-free sync of the smaller district holds.
    clean = clean_sync(shrunk)
    gone = set(removed) | {
        e["sourcedId"] for e in district.enrollments if e["user"]["sourcedId"] in removed
    }
    for table, rows in after.items():
        kept = {sid: row for sid, row in rows.items() if sid not in gone}
        assert kept == clean[table], table
    assert all(not after["enrollments"][sid][1] for sid in gone - set(removed))


@pytest.mark.parametrize("collection", ["users", "enrollments"])
def test_the_client_hands_on_only_the_pass_that_added_up(
    server: SimulatorServer, district: DistrictData, collection: str
) -> None:
    """Straight from the client: records of the first pass never reach the caller."""
    first_page = sorted(r["sourcedId"] for r in district.collection(collection))[:PAGE_SIZE]
    changed = mutations.vanish(district, collection, first_page[:REMOVED]).data
    server.set_faults(TENANT, f.change_mid_pull(lambda _old: changed, collection=collection))
    client = OneRosterClient(server.base_url(TENANT), OAuth1Auth(KEY, SECRET), page_size=PAGE_SIZE)
    pages: list[int] = []
    with client:
        got = [r["sourcedId"] for r in client.iter_collection(collection, on_page=pages.append)]
    assert got == sorted(r["sourcedId"] for r in changed.collection(collection))
    assert client.stats[collection].restarts == 1
    assert client.stats[collection].records == len(got)
    # Progress counted the first pass's pages, then started again from nothing.
    assert pages[0] == PAGE_SIZE and pages[-1] == len(got) and pages.count(PAGE_SIZE) == 2


def test_without_restarts_a_changed_count_fails_the_pull(
    server: SimulatorServer, district: DistrictData
) -> None:
    shrunk = mutations.vanish(district, "users", [district.users[0]["sourcedId"]]).data
    server.set_faults(TENANT, f.change_mid_pull(lambda _old: shrunk, collection="users"))
    client = OneRosterClient(
        server.base_url(TENANT), OAuth1Auth(KEY, SECRET), page_size=PAGE_SIZE, max_restarts=0
    )
    with client, pytest.raises(CountMismatch, match="changed from"):
        list(client.iter_collection("users"))
