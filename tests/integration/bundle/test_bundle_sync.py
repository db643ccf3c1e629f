"""A district synced from a OneRoster CSV bundle lands exactly as it does over REST.

Each malformed bundle fails its run with a message naming the problem and writes nothing.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from tests.integration.bundle.helpers import KEY, SECRET, bundle_of, make_portal
from tests.unit.oneroster.bundle_helpers import make_zip, manifest, members, patch_central

from rostersync.oneroster.bundle import BundleLimits
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district
from rostersync.store import tables
from rostersync.sync.bundle_source import BundleSource

TABLES = {
    "students": tables.students,
    "educators": tables.educators,
    "classes": tables.classes,
    "enrollments": tables.enrollments,
    "orgs": tables.orgs,
}


@pytest.fixture(scope="module")
def district_data() -> DistrictData:
    return generate_district(students=240, seed=11, bad_records=True)


def contents(portal: Services) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Each table's rows by sourcedId: content hash and active flag."""
    with portal.engine.connect() as conn:
        return {
            name: {
                r.sourced_id: (r.content_hash, r.active)
                for r in conn.execute(select(t.c.sourced_id, t.c.content_hash, t.c.active))
            }
            for name, t in TABLES.items()
        }


def row_counts(portal: Services) -> dict[str, int]:
    with portal.engine.connect() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for name, t in TABLES.items()
        }
        audit: Table = tables.audit_log
        counts["audit"] = conn.execute(select(func.count()).select_from(audit)).scalar_one()
    return counts


class TestSameAsRest:
    """The same district via 1.1 REST, a 1.1 bundle and a 1.2 bundle gives the same portal."""

    def test_rest_and_bundles_yield_identical_portal_contents(
        self,
        fresh_db_url: Callable[[], str],
        tmp_path: Path,
        district_data: DistrictData,
    ) -> None:
        results = {}
        data = copy.deepcopy(district_data)
        tenant = Tenant(name="springfield", data=data, key=KEY, secret=SECRET)
        with SimulatorServer([tenant]) as server:
            rest = make_portal(fresh_db_url(), tmp_path / "rest")
            # Pointed at the simulator with its secret typed again, as a person would: a stored
            # secret is only sent to the source it was entered for.
            rest.onboarding.set_source(
                "springfield",
                "test",
                source_kind="oneroster-1.1",
                source_url=server.base_url("springfield"),
                key=KEY,
                secret=SECRET,
            )
            report = rest.runs.sync("springfield")
            assert report.status == "succeeded", report.error
            results["rest"] = contents(rest)
            rest.close()
        for version in ("1.1", "1.2"):
            portal = make_portal(fresh_db_url(), tmp_path / version)
            source = BundleSource(bundle_of(district_data, version=version))
            report = portal.runs.sync("springfield", source=source)
            assert report.status == "succeeded", report.error
            assert report.counts["student"]["created"] > 200
            results[version] = contents(portal)
            portal.close()
        assert results["rest"]["students"]
        assert results["1.1"] == results["rest"]
        assert results["1.2"] == results["rest"]

    def test_a_second_bundle_sync_changes_nothing_and_a_removed_student_is_deactivated(
        self, portal: Services, district_data: DistrictData
    ) -> None:
        first = portal.runs.sync("springfield", source=BundleSource(bundle_of(district_data)))
        assert first.status == "succeeded", first.error
        again = portal.runs.sync("springfield", source=BundleSource(bundle_of(district_data)))
        assert again.change_count == 0
        leaver = next(u for u in district_data.users if u["role"] == "student")["sourcedId"]
        smaller = copy.deepcopy(district_data)
        smaller.users = [u for u in smaller.users if u["sourcedId"] != leaver]
        smaller.enrollments = [e for e in smaller.enrollments if e["user"]["sourcedId"] != leaver]
        third = portal.runs.sync("springfield", source=BundleSource(bundle_of(smaller)))
        assert third.counts["student"]["deactivated"] == 1
        assert contents(portal)["students"][leaver][1] is False

    def test_a_delta_bundle_never_deactivates_by_absence(
        self, portal: Services, district_data: DistrictData
    ) -> None:
        portal.runs.sync("springfield", source=BundleSource(bundle_of(district_data)))
        smaller = copy.deepcopy(district_data)
        smaller.users = smaller.users[:-40]
        report = portal.runs.sync(
            "springfield", source=BundleSource(bundle_of(smaller, mode="delta"))
        )
        assert report.status == "succeeded", report.error
        assert all(c["deactivated"] == 0 for c in report.counts.values())


def _malformed(valid: bytes) -> dict[str, tuple[bytes, str]]:
    files = members(valid)
    users = files["users.csv"]
    header, rest = users.split(b"\r\n", 1)

    def replaced(**changes: bytes) -> bytes:
        return make_zip({**files, **changes})

    swapped = header.replace(b"orgSourcedIds,role", b"role,orgSourcedIds")
    second_line = rest.split(b"\r\n", 1)
    return {
        "path traversal": (make_zip({**files, "../users.csv": b""}), "points outside"),
        "zip bomb": (replaced(**{"users.csv": users + bytes(30 * 2**20)}), "zip bomb"),
        "missing manifest": (
            make_zip({k: v for k, v in files.items() if k != "manifest.csv"}),
            "no manifest.csv",
        ),
        "bad header": (
            replaced(**{"users.csv": swapped + b"\r\n" + rest}),
            "expected column 'orgSourcedIds' but found 'role'",
        ),
        "bad encoding": (
            replaced(**{"users.csv": b"\xef\xbb\xbf" + users + b"x\xff\r\n"}),
            "not valid UTF-8",
        ),
        "oversize file": (
            # Random text: it compresses like a real roster, so only the size limit can stop it.
            replaced(**{"users.csv": users + random.Random(1).randbytes(2**20).hex().encode()}),
            "limit for one file",
        ),
        "nested folder": (
            make_zip({**{f"export/{k}": v for k, v in files.items()}}),
            "inside a folder",
        ),
        "wrong cell count": (
            replaced(**{"users.csv": header + b"\r\n" + second_line[0] + b",x\r\n" + rest}),
            "users.csv line 2",
        ),
        "overlapping entries": (
            patch_central(make_zip(files), "users.csv", 42, "<I", 0),
            "overlap",
        ),
        "declared but missing": (
            make_zip({"manifest.csv": manifest(users="bulk", orgs="bulk"), "orgs.csv": b""}),
            "not in the zip",
        ),
    }


CASES = (
    "path traversal",
    "zip bomb",
    "missing manifest",
    "bad header",
    "bad encoding",
    "oversize file",
    "nested folder",
    "wrong cell count",
    "overlapping entries",
    "declared but missing",
)


@pytest.fixture(scope="module")
def malformed(district_data: DistrictData) -> dict[str, tuple[bytes, str]]:
    cases = _malformed(bundle_of(district_data))
    assert set(cases) == set(CASES)
    return cases


class TestMalformedBundles:
    """Each malformed bundle fails the run, names the problem, and leaves the portal as it was."""

    @pytest.mark.parametrize("case", CASES)
    def test_refused_and_nothing_written(
        self,
        portal: Services,
        district_data: DistrictData,
        malformed: dict[str, tuple[bytes, str]],
        case: str,
    ) -> None:
        bundle, expected = malformed[case]
        first = portal.runs.sync("springfield", source=BundleSource(bundle_of(district_data)))
        assert first.status == "succeeded", first.error
        before, counts = contents(portal), row_counts(portal)
        limits = BundleLimits(max_member_bytes=2 * 2**20)
        report = portal.runs.sync("springfield", source=BundleSource(bundle, limits=limits))
        assert report.status == "failed"
        assert report.error is not None
        assert expected in report.error
        assert contents(portal) == before
        assert row_counts(portal) == counts
        (latest, *_rest) = portal.runs.recent("springfield", limit=1)
        assert latest.status == "failed"
