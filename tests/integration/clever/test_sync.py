"""A district on Clever synced over real HTTP: its people, classes, enrollments and eligibility
land; a resync of the same roster changes nothing; setup mistakes fail with what to fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.integration.clever.conftest import SLUG, PortalMaker, district_id, onboard, sync
from tests.integration.clever.portal_view import portal_view
from tests.integration.portal_state import row_counts, snapshot

from rostersync.errors import ConfigError, FullSyncRequired, SourceAuthError
from rostersync.services import Services
from rostersync.simulator import DistrictData
from rostersync.simulator.clever import CleverSimulator


def live_users(data: DistrictData, role: str) -> list[dict[str, Any]]:
    return [u for u in data.users if u["role"] == role and u.get("status") != "tobedeleted"]


def test_a_full_sync_lands_people_classes_enrollments_and_eligibility(
    portal: Services, district_data: DistrictData, clever: CleverSimulator
) -> None:
    report = sync(portal)

    assert report.status == "succeeded", report.error
    view = portal_view(portal)
    students = live_users(district_data, "student")
    assert {(s[3], s[0], s[1]) for s in view.students} == {
        (u["identifier"], u["givenName"], u["familyName"]) for u in students
    }
    assert {(t[0], t[1]) for t in view.educators if t[3] == "teacher"} == {
        (u["givenName"], u["familyName"]) for u in live_users(district_data, "teacher")
    }
    assert {title for title, _code in view.classes} == {
        c["title"] for c in district_data.classes if c.get("status") != "tobedeleted"
    }
    roles = {role for _cls, _person, role in view.enrollments}
    assert roles == {"student", "teacher"}
    assert len(view.enrollments) == report.records_pulled["enrollments"]
    # Eligibility comes from the students' `ext.eligibility`, as it does from ClassLink metadata.
    flagged = {u["identifier"]: u["metadata"]["eligibility"] for u in students if u.get("metadata")}
    assert flagged, "the generated district flags some students"
    for student_id, value in flagged.items():
        status, category = view.eligibility[student_id]
        assert status == ("not_eligible" if value == "N" else "eligible"), student_id
        assert category == (None if value == "N" else value), student_id
    # Several pages per collection, every request through the budgeted transport.
    assert report.requests > len(report.records_pulled)
    assert clever.request_count(district_id(clever)) > 0


def test_a_resync_of_the_same_roster_changes_nothing(portal: Services) -> None:
    first = sync(portal)
    assert first.status == "succeeded", first.error
    before, rows = snapshot(portal), row_counts(portal)

    again = sync(portal)

    assert again.status == "succeeded", again.error
    assert again.change_count == 0
    assert snapshot(portal) == before
    # One more audit row at most would be a run's own; no roster row was written.
    assert {k: v for k, v in row_counts(portal).items() if k != "audit_log"} == {
        k: v for k, v in rows.items() if k != "audit_log"
    }


def test_test_connection_finds_the_district_among_the_apps_tokens_and_names_it(
    portal: Services,
) -> None:
    outcome = portal.onboarding.test_source(SLUG)

    assert "Springfield Unified School District" in outcome
    assert "shares its roster with the app" in outcome


def test_a_district_that_has_not_shared_with_the_app_fails_with_what_to_ask(
    make_clever_portal: PortalMaker,
) -> None:
    portal = make_clever_portal()
    onboard(portal, "5f0000000000000000000bad")

    report = sync(portal)

    assert report.status == "failed"
    assert report.error is not None
    assert "has not shared with the app in Clever" in report.error
    assert "ask the district to add and share the app" in report.error
    assert row_counts(portal)["students"] == 0
    with pytest.raises(SourceAuthError, match="has not shared with the app") as refused:
        portal.onboarding.test_source(SLUG)
    assert refused.value.credential == "district sharing"


def test_a_wrong_app_secret_fails_naming_the_vendor_settings(
    make_clever_portal: PortalMaker, clever: CleverSimulator
) -> None:
    portal = make_clever_portal(clever_client_secret="not-the-secret")
    onboard(portal, district_id(clever))

    report = sync(portal)

    assert report.status == "failed"
    assert report.error is not None
    assert "refused the app's client id or secret" in report.error
    assert "ROSTERSYNC_CLEVER_CLIENT_SECRET" in report.error
    assert "not-the-secret" not in report.error
    assert row_counts(portal)["students"] == 0
    with pytest.raises(SourceAuthError) as refused:
        portal.onboarding.test_source(SLUG)
    assert refused.value.credential == "Clever app secret"
    # The secret was only ever sent to the token list: no Data API request was made.
    assert clever.request_count() == 0


def test_missing_vendor_settings_are_named_before_anything_is_sent(
    make_clever_portal: PortalMaker, clever: CleverSimulator
) -> None:
    portal = make_clever_portal(clever_client_id="", clever_client_secret="")
    onboard(portal, district_id(clever))

    with pytest.raises(ConfigError, match="ROSTERSYNC_CLEVER_CLIENT_ID"):
        portal.onboarding.test_source(SLUG)
    with pytest.raises(ConfigError, match="ROSTERSYNC_CLEVER_CLIENT_SECRET"):
        sync(portal)
    assert clever.request_count() == 0


def test_a_district_gives_only_its_clever_id_never_a_secret(
    make_clever_portal: PortalMaker, clever: CleverSimulator
) -> None:
    portal = make_clever_portal()
    with pytest.raises(ConfigError, match="secret is the vendor's"):
        onboard(portal, district_id(clever), secret="a-district-secret")


def state_id(user: dict[str, Any]) -> str:
    return str(next(i["identifier"] for i in user["userIds"] if i["type"] == "StateID"))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("identifier", lambda u: u["identifier"]),  # Clever's student_number
        ("userIds:state_id", state_id),
        ("userIds:sis_id", lambda u: u["sourcedId"]),  # the SIS id Clever keeps
    ],
)
def test_the_student_id_may_be_the_student_number_the_state_id_or_the_sis_id(
    make_clever_portal: PortalMaker,
    clever: CleverSimulator,
    district_data: DistrictData,
    field: str,
    expected: Callable[[dict[str, Any]], str],
) -> None:
    portal = make_clever_portal()
    onboard(portal, district_id(clever), student_id_field=field)

    report = sync(portal)

    assert report.status == "succeeded", report.error
    assert {(s[0], s[1], s[3]) for s in portal_view(portal).students} == {
        (u["givenName"], u["familyName"], expected(u)) for u in live_users(district_data, "student")
    }


def test_a_delta_before_any_full_sync_is_refused_asking_for_one(portal: Services) -> None:
    # Clever deltas read the Events API after a full sync's position (test_events_delta.py).
    with pytest.raises(FullSyncRequired, match="run a full sync first"):
        portal.runs.delta(SLUG)
