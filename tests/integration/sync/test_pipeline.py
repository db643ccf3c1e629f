"""A district synced end to end: the simulator over real HTTP into SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from rostersync.domain.records import EntityKind
from rostersync.logs import configure_logging
from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district
from rostersync.store import tables

KEY, SECRET = "springfield-key", "springfield-secret-9Zq"
STUDENTS = 240


@pytest.fixture(scope="module")
def district_data() -> DistrictData:
    return generate_district(students=STUDENTS, seed=11, bad_records=True)


@pytest.fixture
def server(district_data: DistrictData) -> Iterator[SimulatorServer]:
    data = copy.deepcopy(district_data)
    with SimulatorServer([Tenant(name="springfield", data=data, key=KEY, secret=SECRET)]) as srv:
        yield srv


def onboard(portal: Services, url: str, *, key: str = KEY, secret: str = SECRET, **kw: Any) -> None:
    answers: dict[str, Any] = {
        "slug": "springfield",
        "name": "Springfield Unified School District",
        "display_name": "Springfield USD – Springfield, IL",
        "city": "Springfield",
        "state": "IL",
        "source_url": url,
        "key": key,
        "secret": secret,
        "eligibility_source": "metadata",
        "eligibility_field": "eligibility",
    }
    answers.update(kw)
    portal.districts.add(Questionnaire(**answers))


def without_student(data: DistrictData, sid: str) -> DistrictData:
    """The same district after one student left: the user and their enrollments are gone."""
    return dataclasses.replace(
        data,
        users=[u for u in data.users if u["sourcedId"] != sid],
        enrollments=[e for e in data.enrollments if e["user"]["sourcedId"] != sid],
    )


def active_by_sid(portal: Services, table: Any) -> dict[str, tuple[str, bool]]:
    with portal.engine.connect() as conn:
        rows = conn.execute(select(table.c.sourced_id, table.c.id, table.c.active)).all()
    return {r.sourced_id: (r.id, r.active) for r in rows}


def a_valid_student(data: DistrictData) -> dict[str, Any]:
    planted = {p.sourced_id for p in data.planted} | {r for p in data.planted for r in p.related}
    return next(
        u
        for u in data.users
        if u["role"] == "student" and u["sourcedId"] not in planted and u.get("metadata")
    )


class TestFirstAndSecondSync:
    """A first sync provisions every valid record; an identical second sync changes nothing."""

    def test_counts_match_the_generated_district_and_planted_records_are_reported(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server.base_url("springfield"))
        report = portal.runs.sync("springfield")
        assert report.status == "succeeded", report.error
        generated = district_data.counts()
        for kind, name in (
            (EntityKind.STUDENT, "students"),
            (EntityKind.EDUCATOR, "educators"),
            (EntityKind.CLASS, "classes"),
            (EntityKind.ENROLLMENT, "enrollments"),
        ):
            row = report.counts[kind.value]
            assert row["created"] + row["held"] == generated[name], kind
        flagged = {i.sourced_id for i in report.issues}
        assert {p.sourced_id for p in district_data.planted} <= flagged
        assert (
            report.skipped["guardian"] + report.skipped.get("parent", 0) == generated["guardians"]
        )
        stored = portal.districts.counts("springfield")
        assert stored["students"]["active"] == report.counts["student"]["created"]
        assert len(portal.runs.issues(report.run_id)) == len(report.issues)

        second = portal.runs.sync("springfield")
        assert second.status == "succeeded"
        assert second.change_count == 0
        assert second.counts["student"]["unchanged"] == report.counts["student"]["created"]

    def test_every_created_account_has_an_audit_row_naming_the_run(
        self, portal: Services, server: SimulatorServer
    ) -> None:
        onboard(portal, server.base_url("springfield"))
        report = portal.runs.sync("springfield")
        with portal.engine.connect() as conn:
            rows = conn.execute(
                select(tables.audit_log.c.entity_id, tables.audit_log.c.actor).where(
                    tables.audit_log.c.entity_type == "student",
                    tables.audit_log.c.action == "create",
                )
            ).all()
        assert len(rows) == report.counts["student"]["created"]
        assert {r.actor for r in rows} == {f"sync run {report.run_id}"}


class TestCredentials:
    """Refused credentials fail the run, write nothing, and say which credential to check."""

    @pytest.mark.parametrize(
        ("key", "secret", "clock_skew", "expected"),
        [
            ("not-our-key", SECRET, 0, "key"),
            (KEY, "wrong-secret", 0, "secret"),
            (KEY, SECRET, 3600, "clock"),
        ],
    )
    def test_refused_request_names_the_credential(
        self,
        portal: Services,
        district_data: DistrictData,
        key: str,
        secret: str,
        clock_skew: int,
        expected: str,
    ) -> None:
        tenant = Tenant(name="springfield", data=district_data, key=KEY, secret=SECRET)
        with SimulatorServer([tenant], clock=lambda: time.time() + clock_skew) as srv:
            onboard(portal, srv.base_url("springfield"), key=key, secret=secret)
            report = portal.runs.sync("springfield")
        assert report.status == "failed"
        assert report.error is not None and expected in report.error.lower()
        assert portal.districts.counts("springfield")["students"] == {"active": 0, "inactive": 0}
        (run,) = portal.runs.recent("springfield")
        assert run.status == "failed" and run.error == report.error


class TestLeavingAndReturning:
    """A departed student is deactivated, not deleted, and comes back to the same account."""

    def test_departed_student_is_deactivated_and_restored_with_id_and_eligibility(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server.base_url("springfield"))
        assert portal.runs.sync("springfield").status == "succeeded"
        leaver = a_valid_student(district_data)["sourcedId"]
        account_id, active = active_by_sid(portal, tables.students)[leaver]
        assert active
        with portal.engine.connect() as conn:
            eligibility_before = conn.execute(
                select(tables.eligibility.c.status, tables.eligibility.c.category).where(
                    tables.eligibility.c.student_id == account_id
                )
            ).one()

        server.tenant("springfield").data = without_student(district_data, leaver)
        gone = portal.runs.sync("springfield")
        assert gone.counts["student"]["deactivated"] == 1
        assert active_by_sid(portal, tables.students)[leaver] == (account_id, False)
        with portal.engine.connect() as conn:
            ended = conn.execute(
                select(tables.enrollments.c.active, tables.enrollments.c.end_date).where(
                    tables.enrollments.c.student_id == account_id
                )
            ).all()
        assert ended and all(not r.active and r.end_date for r in ended)

        server.tenant("springfield").data = copy.deepcopy(district_data)
        back = portal.runs.sync("springfield")
        assert back.counts["student"]["restored"] == 1
        assert active_by_sid(portal, tables.students)[leaver] == (account_id, True)
        with portal.engine.connect() as conn:
            eligibility_after = conn.execute(
                select(tables.eligibility.c.status, tables.eligibility.c.category).where(
                    tables.eligibility.c.student_id == account_id
                )
            ).one()
        assert eligibility_after == eligibility_before

    def test_an_empty_users_collection_deactivates_nobody(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server.base_url("springfield"))
        first = portal.runs.sync("springfield")
        server.tenant("springfield").data = dataclasses.replace(
            district_data, users=[], enrollments=[]
        )
        report = portal.runs.sync("springfield")
        assert report.status == "succeeded"
        assert report.counts["student"]["deactivated"] == 0
        assert report.counts["enrollment"]["deactivated"] == 0
        active = portal.districts.counts("springfield")["students"]["active"]
        assert active == first.counts["student"]["created"]


class TestChanges:
    """An edit in the source is an update; a fixed record is provisioned by the next sync."""

    def test_an_edited_student_is_updated_and_audited(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server.base_url("springfield"))
        portal.runs.sync("springfield")
        edited = copy.deepcopy(district_data)
        target = a_valid_student(edited)
        target["givenName"] = "Renamed"
        server.tenant("springfield").data = edited
        report = portal.runs.sync("springfield")
        assert report.counts["student"]["updated"] == 1
        assert report.change_count == 1
        account_id, _ = active_by_sid(portal, tables.students)[target["sourcedId"]]
        with portal.engine.connect() as conn:
            (changes,) = conn.execute(
                select(tables.audit_log.c.changes).where(
                    tables.audit_log.c.entity_id == account_id,
                    tables.audit_log.c.action == "update",
                )
            ).one()
        assert "given_name" in json.dumps(changes)
        assert "Renamed" not in json.dumps(changes)  # the audit names fields, not personal values

    def test_a_student_fixed_at_the_source_is_provisioned_on_the_next_sync(
        self, portal: Services, server: SimulatorServer, district_data: DistrictData
    ) -> None:
        onboard(portal, server.base_url("springfield"))
        first = portal.runs.sync("springfield")
        missing = next(p for p in district_data.planted if p.problem == "missing_grade")
        assert missing.sourced_id in {i.sourced_id for i in first.issues}
        fixed = copy.deepcopy(district_data)
        next(u for u in fixed.users if u["sourcedId"] == missing.sourced_id)["grades"] = ["04"]
        server.tenant("springfield").data = fixed
        report = portal.runs.sync("springfield")
        assert report.counts["student"]["created"] == 1
        assert missing.sourced_id not in {i.sourced_id for i in report.issues}
        assert active_by_sid(portal, tables.students)[missing.sourced_id][1] is True


class TestLogs:
    """A sync's log lines carry ids and counts, never a student's personal data."""

    def test_no_name_email_or_student_id_reaches_the_log(
        self,
        portal: Services,
        server: SimulatorServer,
        district_data: DistrictData,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure_logging(portal.settings)
        onboard(portal, server.base_url("springfield"))
        report = portal.runs.sync("springfield")
        err = capsys.readouterr().err
        assert report.run_id in err  # the summary line was written
        for user in district_data.users[:50]:
            for value in (user["givenName"] + " ", user["email"], user.get("identifier") or "@@"):
                assert value and value not in err
        assert SECRET not in err and KEY not in err
