"""A bundle source trusts absence only from bulk snapshots, and fails while iterating."""

from __future__ import annotations

import pytest
from tests.unit.oneroster.bundle_helpers import bundle_bytes, make_zip, members, small_district

from rostersync.domain.records import EntityKind
from rostersync.oneroster.bundle import BundleError
from rostersync.sync.bundle_source import BundleSource

ALL_KINDS = set(EntityKind)


def drain(source: BundleSource) -> int:
    return sum(1 for _ in source.records())


class TestCompleteKinds:
    """Bulk files with rows are complete; delta and absent files never are."""

    @pytest.mark.parametrize("version", ["1.1", "1.2"])
    def test_a_bulk_bundle_is_complete_for_every_kind(self, version: str) -> None:
        source = BundleSource(bundle_bytes(version=version))
        drain(source)
        assert source.complete_kinds() == ALL_KINDS
        data = small_district()
        assert source.stats.records["users"] == len(data.users)
        assert source.stats.records["enrollments"] == len(data.enrollments)

    def test_a_delta_bundle_is_never_complete(self) -> None:
        source = BundleSource(bundle_bytes(mode="delta"))
        assert drain(source) > 0
        assert source.complete_kinds() == set()

    def test_absent_and_empty_files_are_not_complete(self) -> None:
        files = members(bundle_bytes())
        files["manifest.csv"] = files["manifest.csv"].replace(
            b"file.enrollments,bulk", b"file.enrollments,absent"
        )
        del files["enrollments.csv"]
        files["classes.csv"] = files["classes.csv"].split(b"\r\n", 1)[0] + b"\r\n"
        source = BundleSource(make_zip(files))
        drain(source)
        assert source.complete_kinds() == ALL_KINDS - {EntityKind.ENROLLMENT, EntityKind.CLASS}

    def test_12_users_are_not_complete_when_roles_are_a_delta(self) -> None:
        files = members(bundle_bytes(version="1.2"))
        files["manifest.csv"] = files["manifest.csv"].replace(
            b"file.roles,bulk", b"file.roles,delta"
        )
        source = BundleSource(make_zip(files))
        drain(source)
        assert EntityKind.STUDENT not in source.complete_kinds()
        assert EntityKind.CLASS in source.complete_kinds()


class TestFailures:
    """A refused bundle raises while records are iterated, not when the source is made."""

    def test_construction_never_reads_and_iteration_raises(self) -> None:
        source = BundleSource(b"not a zip")
        with pytest.raises(BundleError, match="not a readable zip"):
            drain(source)

    def test_progress_is_reported_per_collection(self) -> None:
        seen: dict[str, int] = {}
        source = BundleSource(bundle_bytes())
        for _ in source.records(lambda c, n: seen.__setitem__(c, n)):
            pass
        assert seen == source.stats.records
