"""Enrollments are planned and written a spool chunk at a time; the portal ends up the same.

The district here has more enrollments than one spool chunk (`sync.enrollments.CHUNK`), so
lookups, outcomes and writes cross chunk boundaries, on SQLite and on PostgreSQL; and every test
runs twice: with the enrollments read by the run itself, and read aside by a helper process
(`sync.enrollment_reader`), as a big district's are.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.integration.bundle.helpers import bundle_of
from tests.unit.oneroster.bundle_helpers import make_zip, members

from rostersync.errors import SourceChanged
from rostersync.services import Services
from rostersync.simulator import DistrictData, generate_district
from rostersync.store import tables
from rostersync.sync import enrollments as streamed
from rostersync.sync.bundle_source import BundleSource
from rostersync.sync.pipeline import SyncReport

SLUG = "springfield"


@pytest.fixture(scope="module")
def big() -> DistrictData:
    data = generate_district(students=1000, seed=5)
    assert len(data.enrollments) > streamed.CHUNK + 500
    return data


def enrollment_rows(portal: Services) -> dict[str, tuple[str, bool, str | None, str]]:
    t = tables.enrollments
    with portal.engine.connect() as conn:
        return {
            r.sourced_id: (r.id, r.active, r.end_date, r.content_hash)
            for r in conn.execute(
                select(t.c.sourced_id, t.c.id, t.c.active, t.c.end_date, t.c.content_hash)
            )
        }


def people_count(portal: Services) -> int:
    with portal.engine.connect() as conn:
        return sum(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (tables.students, tables.educators)
        )


def audited(portal: Services, action: str) -> int:
    t = tables.audit_log
    with portal.engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(t.c.entity_type == "enrollment", t.c.action == action)
        ).scalar_one()


SourceOf = Callable[[DistrictData], BundleSource]


@pytest.fixture(params=["read here", "read aside"])
def source_of(request: pytest.FixtureRequest, tmp_path: Path) -> SourceOf:
    """Makes the bundle source of a district, read by the run itself or by a helper."""
    if request.param == "read here":
        return lambda data: BundleSource(bundle_of(data))
    numbers = itertools.count()

    def aside(data: DistrictData) -> BundleSource:
        path = tmp_path / f"bundle-{next(numbers)}.zip"
        path.write_bytes(bundle_of(data))
        return BundleSource(path, aside_bytes=0)

    return aside


def sync(portal: Services, source: BundleSource) -> dict[str, int]:
    report = portal.runs.sync(SLUG, source=source)
    assert report.status == "succeeded", report.error
    assert report.records_pulled["enrollments"] == source.stats.records["enrollments"] > 0
    assert source.enrollments_aside == (source.aside_bytes == 0)
    return report.counts["enrollment"]


class TestAcrossChunks:
    def test_create_resync_change_remove_and_return(
        self, portal: Services, big: DistrictData, source_of: SourceOf
    ) -> None:
        total = len(big.enrollments)
        first = sync(portal, source_of(big))
        assert first["created"] == total - first["held"] and first["created"] > streamed.CHUNK
        before = enrollment_rows(portal)
        assert len(before) == first["created"] and all(row[1] for row in before.values())
        assert audited(portal, "create") == first["created"]

        assert sync(portal, source_of(big)) == {
            **first,
            "created": 0,
            "unchanged": first["created"],
        }

        # Across both chunks: 30 gone, 20 ended by the district, 25 changed, 1 marked removed.
        later = copy.deepcopy(big)
        sids = sorted(before)
        gone = set(sids[:: len(sids) // 30][:30])
        removed = sids[-1]
        changed = [s for s in sids if s not in gone and s != removed][7::200][:25]
        later.enrollments = [e for e in later.enrollments if e["sourcedId"] not in gone]
        for e in later.enrollments:
            if e["sourcedId"] in changed:
                e["endDate"] = "2027-01-15"
            if e["sourcedId"] == removed:
                e["status"] = "tobedeleted"
        counts = sync(portal, source_of(later))
        assert counts["deactivated"] == len(gone) + 1
        assert counts["updated"] == len(changed)
        assert counts["created"] == 0
        after = enrollment_rows(portal)
        for sid in [*gone, removed]:
            portal_id, active, end_date, _hash = after[sid]
            assert portal_id == before[sid][0] and active is False and end_date
        for sid in changed:
            assert after[sid][0] == before[sid][0] and after[sid][2] == "2027-01-15"
            assert after[sid][3] != before[sid][3]
        untouched = set(sids) - gone - set(changed) - {removed}
        assert all(after[s] == before[s] for s in untouched)
        assert audited(portal, "deactivate") == len(gone) + 1
        assert audited(portal, "update") == len(changed)

        # The 30 come back: the same rows, restored.
        back = sync(portal, source_of(big))
        assert back["restored"] == len(gone) + 1 and back["created"] == 0
        final = enrollment_rows(portal)
        assert all(final[s][0] == before[s][0] and final[s][1] for s in [*gone, removed])

    def test_a_preview_writes_nothing_and_its_approval_applies_exactly_it(
        self, portal: Services, big: DistrictData, source_of: SourceOf
    ) -> None:
        sync(portal, source_of(big))
        later = copy.deepcopy(big)
        later.enrollments = later.enrollments[: len(later.enrollments) // 2]
        dropped = len(big.enrollments) - len(later.enrollments)
        before = enrollment_rows(portal)
        preview = portal.runs.preview(SLUG, source=source_of(later))
        assert preview.status == "previewed"
        assert preview.counts["enrollment"]["deactivated"] == dropped
        listed = preview.plan["kinds"]["enrollment"]["deactivated"]
        assert listed["count"] == dropped and len(listed["sourced_ids"]) == 200
        assert listed["sourced_ids"] == sorted(listed["sourced_ids"])
        assert enrollment_rows(portal) == before

        # One more enrollment gone since the preview: refused, nothing written.
        changed = copy.deepcopy(later)
        changed.enrollments = changed.enrollments[1:]
        with pytest.raises(SourceChanged):
            portal.runs.approve(preview.run_id, "dm", source=source_of(changed))
        assert enrollment_rows(portal) == before

        applied = portal.runs.approve(preview.run_id, "dm", source=source_of(later))
        assert applied.status == "succeeded", applied.error
        assert applied.fingerprint == preview.fingerprint
        after = enrollment_rows(portal)
        kept = {e["sourcedId"] for e in later.enrollments}
        assert sum(1 for sid, row in after.items() if not row[1]) == dropped
        assert all(after[sid][1] for sid in kept if sid in after)


def helpers_reading(path: Path) -> list[str]:
    """The running helper processes reading the bundle at `path`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # ended while we looked
        if b"rostersync.sync.enrollment_reader" in args and str(path).encode() in args:
            found.append(cmdline.parent.name)
    return found


def sync_aside(portal: Services, files: dict[str, bytes], path: Path) -> SyncReport:
    """Sync the bundle of these files, saved at `path`, with its enrollments read aside."""
    path.write_bytes(make_zip(files))
    source = BundleSource(path, aside_bytes=0)
    report = portal.runs.sync(SLUG, source=source)
    assert source.enrollments_aside
    return report


def assert_nothing_written(portal: Services) -> None:
    assert enrollment_rows(portal) == {}
    assert people_count(portal) == 0


class TestReadAsideFailures:
    """A pull that fails on either side of the helper fails the run and writes nothing."""

    def test_a_refused_enrollment_row_fails_the_run_with_its_line(
        self, portal: Services, big: DistrictData, tmp_path: Path
    ) -> None:
        files = members(bundle_of(big))
        files["enrollments.csv"] += b"enr-ragged,active\r\n"
        report = sync_aside(portal, files, tmp_path / "ragged.zip")
        assert report.status == "failed" and report.error is not None
        line = len(big.enrollments) + 2
        assert report.error.startswith(f"enrollments.csv line {line}: 2 cells")
        assert_nothing_written(portal)

    def test_a_refused_users_file_stops_the_helper(
        self, portal: Services, big: DistrictData, tmp_path: Path
    ) -> None:
        files = members(bundle_of(big))
        files["users.csv"] += b"stu-ragged,active\r\n"
        path = tmp_path / "ragged-users.zip"
        report = sync_aside(portal, files, path)
        assert report.status == "failed" and report.error is not None
        assert report.error.startswith("users.csv line ")
        assert helpers_reading(path) == []
        assert_nothing_written(portal)

    def test_an_empty_enrollments_file_read_aside_deactivates_nothing(
        self, portal: Services, big: DistrictData, tmp_path: Path
    ) -> None:
        first = sync(portal, BundleSource(bundle_of(big)))
        files = members(bundle_of(big))
        files["enrollments.csv"] = files["enrollments.csv"].split(b"\r\n", 1)[0] + b"\r\n"
        report = sync_aside(portal, files, tmp_path / "no-enrollments.zip")
        assert report.status == "succeeded", report.error
        assert report.counts["enrollment"]["deactivated"] == 0
        rows = enrollment_rows(portal)
        assert len(rows) == first["created"] and all(row[1] for row in rows.values())
