"""Clever deltas over real HTTP: the Events API after the position a full sync kept.

A full sync keeps the newest event id (read before its pull); the district's roster then changes
in the simulator, which records Clever's events; a delta reads the events after the position and
applies exactly what they changed. A full sync afterwards changes nothing: the delta missed and
invented nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from tests.integration.clever.conftest import (
    SLUG,
    district_id,
    make_portal,
    onboard,
    settings_for,
    sync,
)
from tests.integration.portal_state import Snapshot, snapshot

from rostersync.errors import SyncInProgress
from rostersync.services import Services
from rostersync.simulator import DistrictData
from rostersync.simulator.clever import CleverSimulator
from rostersync.simulator.clever.model import section_id_for, user_id_for
from rostersync.simulator.faults import server_error
from rostersync.store import tables
from rostersync.store.delta_tables import delta_watermarks
from rostersync.store.locks import DistrictLock
from rostersync.sync import events
from rostersync.sync.change_feed import FALLBACK, RAN_FULL
from rostersync.sync.pipeline import SyncReport


def live_students(data: DistrictData) -> list[dict[str, Any]]:
    return [u for u in data.users if u["role"] == "student" and u.get("status") != "tobedeleted"]


def changed(before: Snapshot, after: Snapshot) -> dict[str, set[str]]:
    """The sourcedIds whose content or activity differ, per table (new ones included)."""
    return {
        table: {sid for sid, row in rows.items() if before[table].get(sid) != row}
        | {sid for sid in before[table] if sid not in rows}
        for table, rows in after.items()
        if any(before[table].get(sid) != row for sid, row in rows.items())
    }


def active_rows(held: Snapshot) -> dict[str, int]:
    return {table: sum(active for _hash, active in rows.values()) for table, rows in held.items()}


def synced(portal: Services) -> None:
    report = sync(portal)
    assert report.status == "succeeded", report.error
    mark = portal.runs.delta_watermark(SLUG)
    assert mark is not None and mark.position is not None


def delta(portal: Services) -> SyncReport:
    return portal.runs.delta(SLUG)


def test_on_every_backend_a_rename_a_removal_and_a_new_section_change_exactly_those(
    fresh_db_url: Callable[[], str],
    tmp_path: Path,
    clever: CleverSimulator,
    district_data: DistrictData,
) -> None:
    portal = make_portal(settings_for(clever, tmp_path, fresh_db_url()))
    try:
        onboard(portal, district_id(clever))
        renamed_removed_and_added(portal, clever, district_data)
    finally:
        portal.close()


def renamed_removed_and_added(
    portal: Services, clever: CleverSimulator, district_data: DistrictData
) -> None:
    synced(portal)
    before = snapshot(portal)
    cid = district_id(clever)
    data = copy.deepcopy(district_data)
    renamed, removed = live_students(data)[0], live_students(data)[1]
    renamed["givenName"] = "Renamed"
    removed["status"] = "tobedeleted"
    template = next(c for c in data.classes if c.get("status") != "tobedeleted")
    new_class = {**copy.deepcopy(template), "sourcedId": "new-class-1", "title": "Robotics"}
    data.classes.append(new_class)
    teacher = next(u for u in data.users if u["role"] == "teacher")
    joined = live_students(data)[2:4]
    for n, person in enumerate([teacher, *joined]):
        data.enrollments.append(
            {
                "sourcedId": f"new-enrollment-{n}",
                "status": "active",
                "class": {"sourcedId": "new-class-1", "type": "class"},
                "user": {"sourcedId": person["sourcedId"], "type": "user"},
                "school": copy.deepcopy(template["school"]),
                "role": person["role"],
                "primary": "true" if person is teacher else "false",
            }
        )
    clever.district(cid).data = data

    report = delta(portal)

    assert report.status == "succeeded", report.error
    after = snapshot(portal)
    section = section_id_for(cid, "new-class-1")
    gone = user_id_for(cid, removed["sourcedId"])
    removed_seats = {sid for sid in before["enrollments"] if f":{gone}:" in sid}
    assert removed_seats, "the removed student sat in classes"
    assert changed(before, after) == {
        "students": {user_id_for(cid, renamed["sourcedId"]), gone},
        "classes": {section},
        "enrollments": {sid for sid in after["enrollments"] if sid.startswith(section)}
        | removed_seats,
    }
    assert after["students"][gone][1] is False
    assert all(not after["enrollments"][sid][1] for sid in removed_seats)
    assert len([s for s in after["enrollments"] if s.startswith(section)]) == 3
    # The position moved: the next delta has nothing to do, and a full sync agrees.
    assert delta(portal).change_count == 0
    assert sync(portal).change_count == 0


def test_a_deleted_section_removes_its_class_and_every_seat(
    portal: Services, clever: CleverSimulator, district_data: DistrictData
) -> None:
    synced(portal)
    before = snapshot(portal)
    cid = district_id(clever)
    data = copy.deepcopy(district_data)
    gone = next(c for c in data.classes if c.get("status") != "tobedeleted")
    gone["status"] = "tobedeleted"
    clever.district(cid).data = data

    report = delta(portal)

    assert report.status == "succeeded", report.error
    section = section_id_for(cid, gone["sourcedId"])
    seats = {sid for sid in before["enrollments"] if sid.startswith(f"{section}:")}
    assert seats, "the class had people in it"
    after = snapshot(portal)
    assert changed(before, after) == {"classes": {section}, "enrollments": seats}
    assert after["classes"][section][1] is False
    assert not any(after["enrollments"][sid][1] for sid in seats)
    assert sync(portal).change_count == 0


def test_events_are_read_page_after_page(portal: Services, clever: CleverSimulator) -> None:
    cid = district_id(clever)
    served = clever.district(cid)
    people = [u for u in served.model.collection("users") if "student" in u["roles"]][:31]
    served.update("users", people[0]["id"], name={**people[0]["name"], "first": "Early"})
    synced(portal)  # its position is that event
    people = people[1:]
    for person in people:  # 30 events, over two pages of 25
        served.update("users", person["id"], name={**person["name"], "first": "Paged"})
    asked = clever.request_count(cid)

    report = delta(portal)

    assert report.status == "succeeded", report.error
    assert report.counts["student"]["updated"] == 30
    assert report.records_pulled["users"] == 30
    # One request checks the position is still kept, then two pages of events.
    assert clever.request_count(cid) - asked == 3
    mark = portal.runs.delta_watermark(SLUG)
    assert mark is not None and mark.position is not None
    assert mark.position.cursor == served.events.all()[-1].id


def test_a_change_made_during_the_full_pull_reaches_the_next_delta(
    portal: Services, clever: CleverSimulator
) -> None:
    cid = district_id(clever)
    served = clever.district(cid)
    school = served.model.collection("schools")[0]
    done: list[bool] = []

    def meanwhile(event: events.Event) -> None:
        # Schools were pulled already; the position was read before them.
        if isinstance(event, events.CollectionPulled) and event.collection == "users" and not done:
            done.append(True)
            served.update("schools", school["id"], name="Renamed Meanwhile School")

    first = portal.runs.sync(SLUG, observers=[meanwhile])
    assert first.status == "succeeded", first.error
    assert done

    report = delta(portal)

    assert report.status == "succeeded", report.error
    assert report.counts["org"]["updated"] == 1
    assert sync(portal).change_count == 0


def test_an_expired_position_runs_a_full_sync_and_says_why(
    portal: Services, clever: CleverSimulator, district_data: DistrictData
) -> None:
    cid = district_id(clever)
    data = copy.deepcopy(district_data)
    live_students(data)[2]["givenName"] = "Before"
    clever.district(cid).data = data  # an event, so the full sync's position names one
    synced(portal)
    live_students(data)[0]["givenName"] = "Renamed"
    clever.district(cid).data = data
    clever.expire_events(cid)

    report = delta(portal)

    assert report.status == "succeeded", report.error
    assert report.reason is not None
    assert "no longer keeps the events" in report.reason
    assert "ran as a full sync" in report.reason
    assert report.counts["student"]["updated"] == 1
    run = portal.runs.get(report.run_id)
    assert run.trigger == FALLBACK
    with portal.engine.connect() as conn:
        said = conn.execute(
            select(tables.audit_log.c.changes).where(
                tables.audit_log.c.run_id == report.run_id,
                tables.audit_log.c.action == RAN_FULL,
            )
        ).scalar_one()
    assert "no longer keeps the events" in str(said)
    # The full sync kept a new position: the next change is a delta again.
    live_students(data)[1]["givenName"] = "Again"
    clever.district(cid).data = data
    again = delta(portal)
    assert again.status == "succeeded", again.error
    assert again.reason is None
    assert portal.runs.get(again.run_id).trigger == "delta"
    assert again.counts["student"]["updated"] == 1


def test_a_failed_delta_keeps_its_position(
    portal: Services, clever: CleverSimulator, district_data: DistrictData
) -> None:
    synced(portal)
    kept = portal.runs.delta_watermark(SLUG)
    cid = district_id(clever)
    data = copy.deepcopy(district_data)
    live_students(data)[0]["givenName"] = "Renamed"
    clever.district(cid).data = data
    before = snapshot(portal)
    clever.set_faults(cid, server_error(503, collection="events", times=50))

    failed = delta(portal)

    assert failed.status == "failed"
    assert snapshot(portal) == before
    after = portal.runs.delta_watermark(SLUG)
    assert after is not None and kept is not None and after.position == kept.position
    clever.set_faults(cid)
    retried = delta(portal)
    assert retried.status == "succeeded", retried.error
    assert retried.counts["student"]["updated"] == 1


def test_a_delta_never_deactivates_for_absence_and_a_mass_removal_is_held(
    portal: Services, clever: CleverSimulator, district_data: DistrictData
) -> None:
    synced(portal)
    cid = district_id(clever)
    served = clever.district(cid)
    before = snapshot(portal)
    person = next(u for u in served.model.collection("users") if "student" in u["roles"])
    served.update("users", person["id"], name={**person["name"], "first": "Only"})

    one = delta(portal)

    assert one.status == "succeeded", one.error
    after = snapshot(portal)
    assert changed(before, after) == {"students": {person["id"]}}
    assert active_rows(after) == active_rows(before)
    # Half the students deleted in Clever: their removals are explicit, so the safeguards
    # judge them as any removal (the default 10%), and hold the run for review, nothing written.
    students = [u for u in served.model.collection("users") if "student" in u["roles"]]
    for gone in students[: len(students) // 2]:
        served.delete("users", gone["id"])
    held = delta(portal)
    assert held.status == "held", held.error
    assert snapshot(portal) == after
    mark = portal.runs.delta_watermark(SLUG)
    assert mark is not None and mark.position is not None
    assert mark.position.cursor != served.events.all()[-1].id


def test_a_position_never_kept_makes_the_delta_run_full(
    portal: Services, clever: CleverSimulator
) -> None:
    synced(portal)
    # As if the process died between the full sync's apply and keeping its position.
    with portal.engine.begin() as conn:
        conn.execute(update(delta_watermarks).values(event_cursor=None, event_cursor_read_at=None))

    report = delta(portal)

    assert report.status == "succeeded", report.error
    assert report.reason is not None and "no position" in report.reason
    assert portal.runs.get(report.run_id).trigger == FALLBACK
    kept = portal.runs.delta_watermark(SLUG)
    assert kept is not None and kept.position is not None


def test_an_empty_feed_older_than_clevers_window_runs_a_full_sync(
    portal: Services, clever: CleverSimulator
) -> None:
    synced(portal)  # the simulator's district has no events yet
    mark = portal.runs.delta_watermark(SLUG)
    assert mark is not None and mark.position is not None and mark.position.cursor is None
    with portal.engine.begin() as conn:
        conn.execute(
            update(delta_watermarks).values(
                event_cursor_read_at=mark.position.read_at - timedelta(days=31)
            )
        )

    report = delta(portal)

    assert report.status == "succeeded", report.error
    assert report.reason is not None and "over 30 days ago" in report.reason
    assert portal.runs.get(report.run_id).trigger == FALLBACK


def test_a_delta_refused_the_lock_changes_nothing_and_keeps_its_position(
    portal: Services, clever: CleverSimulator
) -> None:
    synced(portal)
    cid = district_id(clever)
    served = clever.district(cid)
    person = next(u for u in served.model.collection("users") if "student" in u["roles"])
    served.update("users", person["id"], name={**person["name"], "first": "Waiting"})
    kept = portal.runs.delta_watermark(SLUG)
    before = snapshot(portal)
    other = DistrictLock(portal.engine, kept.district_id if kept else "")
    other.acquire(trigger="manual", mode="apply")
    try:
        with pytest.raises(SyncInProgress):
            delta(portal)
    finally:
        other.release()
    assert snapshot(portal) == before
    assert portal.runs.delta_watermark(SLUG) == kept

    report = delta(portal)

    assert report.status == "succeeded", report.error
    assert report.counts["student"]["updated"] == 1
