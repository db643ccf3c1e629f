"""Rows known unchanged from their hash (decision 0046) leave the portal exactly as reading
every row would: the same records, issues, eligibility and counts, run after run.

Each scenario syncs the same district into two portals of the same backend, one knowing rows
unchanged from their hashes and one reading every row (`skip_unchanged_rows=False`), and
compares what they hold after every run: as CSV bundles, and over OneRoster REST from the
simulator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs
from tests.integration.bundle.helpers import KEY, SECRET, bundle_of, make_portal
from tests.integration.portal_state import snapshot

from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district
from rostersync.store import tables
from rostersync.sync.bundle_source import BundleSource

SLUG = "springfield"


@pytest.fixture(scope="module")
def district() -> DistrictData:
    return generate_district(students=120, seed=23, bad_records=True)


class Twins:
    """Two portals fed the same district: `fast` knows rows unchanged, `full` reads them all.

    With `server`, both pull the district over REST from it; otherwise each is given a bundle.
    """

    def __init__(self, fast: Services, full: Services, server: SimulatorServer | None) -> None:
        self.fast, self.full, self.server = fast, full, server
        self.unchanged: dict[str, int] = {}

    def _source(self, data: DistrictData) -> Callable[[], BundleSource | None]:
        if self.server is not None:
            self.server.tenant(SLUG).data = copy.deepcopy(data)
            return lambda: None
        bundle = bundle_of(data)
        return lambda: BundleSource(bundle)

    def sync(self, data: DistrictData) -> dict[str, Any]:
        source_of = self._source(data)
        reports = []
        for portal in (self.fast, self.full):
            source = source_of()
            with capture_logs() as logs:
                reports.append(portal.runs.sync(SLUG, source=source))
            if portal is self.fast:
                self.unchanged = _unchanged_of(source, logs)
        fast, full = reports
        assert fast.status == full.status == "succeeded", (fast.error, full.error)
        assert fast.counts == full.counts
        assert fast.plan == full.plan
        self.assert_same()
        return fast.counts

    def both(self, change: Callable[[Services], None]) -> None:
        for portal in (self.fast, self.full):
            change(portal)

    def assert_same(self) -> None:
        assert snapshot(self.fast) == snapshot(self.full)
        assert _named_issues(self.fast) == _named_issues(self.full)
        assert _eligibility(self.fast) == _eligibility(self.full)


def _issues(portal: Services) -> set[tuple[str, str, str, str]]:
    return {issue[:4] for issue in _named_issues(portal)}


def _named_issues(portal: Services) -> set[tuple[str, str, str, str, str | None]]:
    """Every issue, open or closed, with the name it shows its record by."""
    issues = tables.validation_issues
    with portal.engine.connect() as conn:
        return {
            (row.entity, row.sourced_id, row.code, row.status, row.subject_name)
            for row in conn.execute(
                select(
                    issues.c.entity,
                    issues.c.sourced_id,
                    issues.c.code,
                    issues.c.status,
                    issues.c.subject_name,
                )
            )
        }


def _eligibility(portal: Services) -> dict[str, tuple[str, str | None, str]]:
    students, eligibility = tables.students, tables.eligibility
    with portal.engine.connect() as conn:
        return {
            row.sourced_id: (row.status, row.category, row.source)
            for row in conn.execute(
                select(
                    students.c.sourced_id,
                    eligibility.c.status,
                    eligibility.c.category,
                    eligibility.c.source,
                ).join_from(eligibility, students, eligibility.c.student_id == students.c.id)
            )
        }


def _unchanged_of(source: BundleSource | None, logs: list[dict[str, Any]]) -> dict[str, int]:
    """Rows known unchanged in the last run: the bundle's count, or (REST) the run's log line;
    none when the run read the pull again."""
    if any(line["event"] == "sync.read_again" for line in logs):
        return {}
    if source is not None:
        return source.unchanged_rows
    finished = [line for line in logs if line["event"] == "sync.finished"]
    return dict(finished[-1].get("unchanged_rows", {}))


@pytest.fixture(params=["bundle", "rest"])
def twins(
    request: pytest.FixtureRequest, fresh_db_url: Callable[[], str], tmp_path: Path
) -> Iterator[Twins]:
    fast = make_portal(fresh_db_url(), tmp_path / "fast")
    full = make_portal(fresh_db_url(), tmp_path / "full", skip_unchanged_rows=False)
    if request.param == "bundle":
        yield Twins(fast, full, None)
    else:
        empty = DistrictData(tenant=SLUG, seed=0)
        with SimulatorServer([Tenant(SLUG, empty, KEY, SECRET)]) as server:
            for portal in (fast, full):
                portal.onboarding.set_source(
                    SLUG,
                    "test",
                    source_kind="oneroster-1.1",
                    source_url=server.base_url(SLUG),
                    key=KEY,
                    secret=SECRET,
                )
            yield Twins(fast, full, server)
    fast.close()
    full.close()


@pytest.fixture
def data(twins: Twins, district: DistrictData) -> DistrictData:
    """The district, synced once into both portals; each test changes its own copy."""
    synced = copy.deepcopy(district)
    twins.sync(synced)
    return synced


def _users(data: DistrictData, role: str) -> list[dict[str, Any]]:
    return [u for u in data.users if u["role"] == role and u.get("status", "active") == "active"]


def _clean_students(portal: Services, data: DistrictData) -> list[dict[str, Any]]:
    """The active students whose rows the portal knows by their hash (no planted problem)."""
    students = tables.students
    with portal.engine.connect() as conn:
        hashed = set(
            conn.execute(
                select(students.c.sourced_id).where(students.c.row_hash.is_not(None))
            ).scalars()
        )
    return [u for u in _users(data, "student") if u["sourcedId"] in hashed]


def test_a_resync_knows_every_clean_row_unchanged_and_changes_nothing(
    twins: Twins, data: DistrictData
) -> None:
    planned = twins.sync(data)
    # Every class and user the portal holds without an issue was known from its row's hash.
    with twins.fast.engine.connect() as conn:
        clean_classes = conn.execute(
            select(tables.classes.c.sourced_id).where(tables.classes.c.row_hash.is_not(None))
        ).all()
    assert twins.unchanged["classes"] == len(clean_classes) > 0
    assert twins.unchanged["users"] > 0
    # The run's record says so, for the run page's counts.
    runs = tables.sync_runs
    with twins.fast.engine.connect() as conn:
        counts = conn.execute(
            select(runs.c.counts).order_by(runs.c.started_at.desc()).limit(1)
        ).scalar_one()
    assert counts["unchanged_rows"] == twins.unchanged
    assert all(c["created"] == c["updated"] == c["deactivated"] == 0 for c in planned.values())


def test_changed_new_and_removed_rows_land_as_if_every_row_were_read(
    twins: Twins, data: DistrictData
) -> None:
    students = _clean_students(twins.fast, data)
    students[0]["familyName"] += "-Renamed"
    data.classes[0]["title"] += " (renamed)"
    gone = students[1]["sourcedId"]
    data.users = [u for u in data.users if u["sourcedId"] != gone]
    newcomer = copy.deepcopy(students[2])
    newcomer.update(sourcedId="new-student-1", username="new.student.1", identifier="NEW-1")
    newcomer["email"] = "new.student.1@springfield.example"
    data.users.append(newcomer)
    counts = twins.sync(data)
    assert counts["student"]["updated"] == 1
    assert counts["student"]["deactivated"] == 1
    assert counts["student"]["created"] == 1
    assert counts["class"]["updated"] == 1
    assert twins.unchanged["users"] > 0  # the rest were still known from their hashes


def test_a_newcomer_sharing_an_unchanged_students_id_holds_both(
    twins: Twins, data: DistrictData
) -> None:
    twin_of = _clean_students(twins.fast, data)[3]
    newcomer = copy.deepcopy(twin_of)
    newcomer.update(sourcedId="new-student-2", username="new.student.2")
    newcomer["email"] = "new.student.2@springfield.example"
    data.users.append(newcomer)
    twins.sync(data)
    # The unchanged student had to be read after all, and is held with the newcomer.
    assert not any(twins.unchanged.values())
    held = {sid for _e, sid, code, status in _issues(twins.fast) if status == "open"}
    assert {twin_of["sourcedId"], "new-student-2"} <= held


def test_a_removed_course_is_seen_by_the_classes_that_point_at_it(
    twins: Twins, data: DistrictData
) -> None:
    course = data.classes[0]["course"]["sourcedId"]
    data.courses = [c for c in data.courses if c["sourcedId"] != course]
    twins.sync(data)
    assert not any(twins.unchanged.values())  # read again: a class may point at it
    twins.sync(data)


def test_eligibility_changed_by_hand_is_put_back_from_the_metadata_field(
    twins: Twins, data: DistrictData
) -> None:
    student = next(
        u for u in _clean_students(twins.fast, data) if (u.get("metadata") or {}).get("eligibility")
    )

    def by_hand(portal: Services) -> None:
        students, eligibility = tables.students, tables.eligibility
        with portal.engine.begin() as conn:
            portal_id = conn.execute(
                select(students.c.id).where(students.c.sourced_id == student["sourcedId"])
            ).scalar_one()
            conn.execute(
                update(eligibility)
                .where(eligibility.c.student_id == portal_id)
                .values(status="not_eligible", category=None, source="portal")
            )

    twins.both(by_hand)
    twins.sync(data)
    assert _eligibility(twins.fast)[student["sourcedId"]][2] == "metadata.eligibility"


def test_a_record_changed_by_another_writer_is_read_again(twins: Twins, data: DistrictData) -> None:
    student = _clean_students(twins.fast, data)[5]

    def elsewhere(portal: Services) -> None:
        # What another source or an older release does: new content, a new content hash.
        students = tables.students
        with portal.engine.begin() as conn:
            conn.execute(
                update(students)
                .where(students.c.sourced_id == student["sourcedId"])
                .values(family_name="Changed", content_hash="0" * 32)
            )

    twins.both(elsewhere)
    counts = twins.sync(data)
    assert counts["student"]["updated"] == 1


def test_changed_rules_read_every_row(twins: Twins, data: DistrictData) -> None:
    def answers(portal: Services) -> None:
        with portal.engine.begin() as conn:
            conn.execute(update(tables.integrations).values(grades_provided=False))

    twins.both(answers)
    twins.sync(data)
    assert not any(twins.unchanged.values())
    twins.sync(data)
    assert twins.unchanged["users"] > 0


def test_rows_with_an_issue_are_read_every_time(twins: Twins, data: DistrictData) -> None:
    twins.sync(data)
    flagged = {sid for _e, sid, _code, status in _issues(twins.fast) if status == "open"}
    assert flagged  # the district has planted problems
    with twins.fast.engine.connect() as conn:
        for table in (tables.classes, tables.students, tables.educators):
            hashed = set(
                conn.execute(
                    select(table.c.sourced_id).where(table.c.row_hash.is_not(None))
                ).scalars()
            )
            assert not hashed & flagged


def test_an_enrollment_issue_names_an_unchanged_student_and_class(
    twins: Twins, data: DistrictData
) -> None:
    student = _clean_students(twins.fast, data)[6]
    enrollment = next(e for e in data.enrollments if e["user"]["sourcedId"] == student["sourcedId"])
    odd = copy.deepcopy(enrollment)
    odd.update(sourcedId="odd-enrollment", role="janitor")
    data.enrollments.append(odd)
    twins.sync(data)
    assert twins.unchanged["users"] > 0
    named = {name for _e, sid, _c, _s, name in _named_issues(twins.fast) if sid == "odd-enrollment"}
    given = student["givenName"]
    assert len(named) == 1 and given in named.pop()  # "<student> in <class>", as read


def test_a_repeated_row_after_an_unchanged_one_is_the_duplicate(
    twins: Twins, data: DistrictData
) -> None:
    student = _clean_students(twins.fast, data)[7]
    data.users.append(copy.deepcopy(student))
    data.classes.append(copy.deepcopy(data.classes[1]))
    twins.sync(data)
    codes = {(sid, code) for _e, sid, code, status in _issues(twins.fast) if status == "open"}
    assert (student["sourcedId"], "duplicate_sourced_id") in codes
    assert (data.classes[1]["sourcedId"], "duplicate_sourced_id") in codes


def test_a_12_bundle_knows_its_classes_but_reads_its_users(
    fresh_db_url: Callable[[], str], tmp_path: Path, district: DistrictData
) -> None:
    portal = make_portal(fresh_db_url(), tmp_path)
    try:
        bundle = bundle_of(district, version="1.2")
        for _ in range(2):
            source = BundleSource(bundle)
            report = portal.runs.sync(SLUG, source=source)
            assert report.status == "succeeded", report.error
        # A 1.2 user is made from users.csv and roles.csv together: never known by one row.
        assert source.unchanged_rows["classes"] > 0
        assert "users" not in source.unchanged_rows
        assert report.change_count == 0
    finally:
        portal.close()
