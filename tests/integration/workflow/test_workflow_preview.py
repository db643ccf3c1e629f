"""Preview, match existing accounts, approve exactly the preview, or refuse a changed source."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from tests.integration.workflow.conftest import onboard, valid_users

from rostersync.errors import RunNotPending, SourceChanged
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer
from rostersync.store import tables

NOW = datetime(2026, 8, 1, tzinfo=UTC)


def hand_made(portal: Services, table: Any, **values: Any) -> str:
    """An account staff made before the district was rostered: no sourcedId, manually rostered."""
    account_id = str(uuid.uuid4())
    with portal.engine.begin() as conn:
        district_id = conn.execute(select(tables.districts.c.id)).scalar_one()
        row = {
            "id": account_id,
            "district_id": district_id,
            "sourced_id": None,
            "content_hash": None,
            "username": f"hand-{account_id[:8]}",
            "given_name": "Hand",
            "family_name": "Made",
            "email": "",
            "school_sourced_ids": [],
            "manually_rostered": True,
            "created_at": NOW,
            "updated_at": NOW,
            **values,
        }
        if table is tables.educators:
            row.setdefault("role", "teacher")
        conn.execute(insert(table).values(**row))
    return account_id


def students_by_id(portal: Services) -> dict[str, Any]:
    with portal.engine.connect() as conn:
        rows = conn.execute(select(tables.students)).all()
    return {r.id: r for r in rows}


class TestMatchingExistingAccounts:
    """Existing accounts are matched by student ID, then email; conflicts are held, not merged."""

    def test_preview_shows_matches_and_conflicts_and_approval_applies_exactly_it(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server, eligibility_source="portal", eligibility_field=None)
        by_sid, by_mail, twin, claim_a, claim_b = valid_users(district_data)[:5]
        teacher = valid_users(district_data, "teacher")[0]
        a_sid = hand_made(portal, tables.students, student_id=by_sid["identifier"])
        a_mail = hand_made(portal, tables.students, email=f"  {by_mail['email'].upper()} ")
        # Two keys of one record point at two accounts; one account is claimed by two records.
        c1 = hand_made(portal, tables.students, student_id=twin["identifier"])
        c2 = hand_made(portal, tables.students, email=twin["email"])
        c3 = hand_made(
            portal, tables.students, student_id=claim_a["identifier"], email=claim_b["email"]
        )
        a_teacher = hand_made(portal, tables.educators, email=teacher["email"])
        with portal.engine.begin() as conn:
            conn.execute(
                insert(tables.eligibility).values(
                    student_id=a_sid,
                    district_id=conn.execute(select(tables.districts.c.id)).scalar_one(),
                    status="eligible",
                    category="RD",
                    source="portal",
                    changed_at=NOW,
                    changed_by="teacher",
                )
            )

        preview = portal.runs.preview("springfield")
        assert preview.status == "previewed"
        matched = preview.plan["kinds"]["student"]["matched"]["items"]
        assert {(m["sourced_id"], m["key"], m["account_id"]) for m in matched} == {
            (by_sid["sourcedId"], "student_id", a_sid),
            (by_mail["sourcedId"], "email", a_mail),
        }
        (educator_match,) = preview.plan["kinds"]["educator"]["matched"]["items"]
        assert (educator_match["key"], educator_match["account_id"]) == ("email", a_teacher)
        conflicts = [i for i in preview.issues if i.code == "ambiguous_match"]
        assert {i.sourced_id for i in conflicts} == {
            twin["sourcedId"],
            claim_a["sourcedId"],
            claim_b["sourcedId"],
        }
        (two_keys,) = [i for i in conflicts if i.sourced_id == twin["sourcedId"]]
        assert c1 in two_keys.message and c2 in two_keys.message
        assert all(c3 in i.message for i in conflicts if i.sourced_id != twin["sourcedId"])
        # A preview writes no roster row.
        assert set(students_by_id(portal)) == {a_sid, a_mail, c1, c2, c3}
        assert all(r.sourced_id is None for r in students_by_id(portal).values())

        applied = portal.runs.approve(preview.run_id, "support@vendor.example")
        assert applied.status == "succeeded"
        assert applied.fingerprint == preview.fingerprint
        assert applied.counts == preview.counts
        assert applied.plan["kinds"] == preview.plan["kinds"]
        rows = students_by_id(portal)
        assert rows[a_sid].sourced_id == by_sid["sourcedId"] and not rows[a_sid].manually_rostered
        assert rows[a_mail].sourced_id == by_mail["sourcedId"]
        for held in (c1, c2, c3):
            assert rows[held].sourced_id is None and rows[held].manually_rostered
        sids = {r.sourced_id for r in rows.values()}
        assert not sids & {twin["sourcedId"], claim_a["sourcedId"], claim_b["sourcedId"]}
        with portal.engine.connect() as conn:
            kept = conn.execute(
                select(tables.eligibility.c.status, tables.eligibility.c.category).where(
                    tables.eligibility.c.student_id == a_sid
                )
            ).one()
            audits = conn.execute(
                select(tables.audit_log.c.entity_id, tables.audit_log.c.changes).where(
                    tables.audit_log.c.action == "match"
                )
            ).all()
            approvals = conn.execute(
                select(tables.audit_log.c.actor, tables.audit_log.c.run_id).where(
                    tables.audit_log.c.action == "approve"
                )
            ).all()
        assert tuple(kept) == ("eligible", "RD")
        assert {(a.entity_id, a.changes["key"]) for a in audits} == {
            (a_sid, "student_id"),
            (a_mail, "email"),
            (a_teacher, "email"),
        }
        assert [tuple(a) for a in approvals] == [("support@vendor.example", preview.run_id)]
        assert portal.runs.get(preview.run_id).status == "approved"
        assert portal.runs.plan(applied.run_id).approves_run_id == preview.run_id
        with pytest.raises(RunNotPending):
            portal.runs.approve(preview.run_id, "support@vendor.example")


class TestSourceChangedSincePreview:
    """Approval re-pulls and refuses, writing nothing, when the plan no longer matches."""

    def test_a_changed_student_refuses_approval_with_the_number_of_differences(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server)
        preview = portal.runs.preview("springfield")
        edited = copy.deepcopy(district_data)
        valid_users(edited)[0]["givenName"] = "Renamed"
        server.tenant("springfield").data = edited
        with pytest.raises(SourceChanged, match=r"changed since this preview \(2 differences\)"):
            portal.runs.approve(preview.run_id, "support@vendor.example")
        assert portal.districts.counts("springfield")["students"] == {"active": 0, "inactive": 0}
        assert portal.runs.get(preview.run_id).status == "previewed"
        refused = portal.runs.recent("springfield")[0]
        assert refused.status == "failed" and "preview again" in (refused.error or "")

    def test_discarding_a_preview_leaves_the_portal_unchanged(
        self, portal: Services, server: SimulatorServer
    ) -> None:
        onboard(portal, server)
        preview = portal.runs.preview("springfield")
        assert portal.runs.discard(preview.run_id, "support").status == "discarded"
        assert portal.districts.counts("springfield")["students"] == {"active": 0, "inactive": 0}
        with pytest.raises(RunNotPending):
            portal.runs.approve(preview.run_id, "support")
