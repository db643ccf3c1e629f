"""A helper process reads a bundle's enrollments into the spool exactly as the run itself would."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.oneroster.bundle_helpers import bundle_bytes, make_zip, members, small_district

from rostersync.domain.records import Enrollment, EntityKind
from rostersync.errors import RetriableSourceError
from rostersync.oneroster.bundle import Bundle, BundleError, BundleLimits
from rostersync.sync.bundle_source import BundleSource
from rostersync.sync.enrollment_reader import EnrollmentReader
from rostersync.sync.enrollments import EnrollmentSpool

CHUNK = 7


def with_enrollment_rows(extra: list[bytes], version: str = "1.1") -> bytes:
    """The small district's bundle with rows appended to enrollments.csv."""
    files = members(bundle_bytes(version=version))
    body = files["enrollments.csv"].rstrip(b"\r\n")
    files["enrollments.csv"] = b"\r\n".join([body, *extra]) + b"\r\n"
    return make_zip(files)


def saved(tmp_path: Path, bundle: bytes) -> Path:
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    return path


def spooled_here(path: Path) -> EnrollmentSpool:
    spool = EnrollmentSpool(CHUNK)
    with Bundle(path) as bundle:
        for _collection, record in bundle.records(only=("enrollments",)):
            assert isinstance(record, Enrollment)
            spool.add(record)
    return spool


def contents(spool: EnrollmentSpool) -> list[tuple[int, list[tuple[object, ...]]]]:
    return [(start, [tuple(row) for row in rows]) for start, rows in spool.chunks()]


class TestTheHelpersSpool:
    @pytest.mark.parametrize("version", ["1.1", "1.2"])
    def test_holds_what_reading_in_this_process_holds(self, tmp_path: Path, version: str) -> None:
        data = small_district()
        first = data.enrollments[0]
        # One enrollment sent twice and one without a sourcedId: the spool reports both.
        lines = members(bundle_bytes(version=version))["enrollments.csv"].split(b"\r\n", 2)
        repeated = lines[1]
        assert repeated.startswith(first["sourcedId"].encode() + b",")
        nameless = repeated.replace(first["sourcedId"].encode(), b"", 1)
        path = saved(tmp_path, with_enrollment_rows([repeated, nameless], version=version))

        here = spooled_here(path)
        aside = EnrollmentSpool(CHUNK)
        aside.attach(EnrollmentReader(path, BundleLimits(), aside))
        aside.wait()

        assert aside.count == here.count == len(data.enrollments) + 1
        assert contents(aside) == contents(here)
        assert aside.repeated() == here.repeated() == {first["sourcedId"]}
        assert [i.code for i in aside.issues] == [i.code for i in here.issues]
        assert [i.code for i in aside.issues] == ["missing_sourced_id"]
        # Keys are made again in this process, where the plan compares them.
        assert aside.keys == here.keys
        aside.close()
        here.close()

    def test_a_refused_row_is_raised_with_its_file_and_line(self, tmp_path: Path) -> None:
        data = small_district()
        ragged = b"enr-x,active,,cls-1"
        path = saved(tmp_path, with_enrollment_rows([ragged]))
        spool = EnrollmentSpool(CHUNK)
        spool.attach(EnrollmentReader(path, BundleLimits(), spool))
        with pytest.raises(BundleError) as refused:
            spool.wait()
        assert refused.value.file == "enrollments.csv"
        assert refused.value.line == len(data.enrollments) + 2
        assert str(refused.value).startswith(f"enrollments.csv line {len(data.enrollments) + 2}:")
        spool.close()

    def test_a_helper_that_dies_fails_the_read_as_retriable(self, tmp_path: Path) -> None:
        path = saved(tmp_path, bundle_bytes())
        spool = EnrollmentSpool(CHUNK)
        reader = EnrollmentReader(path, BundleLimits(), spool)
        reader._process.kill()
        spool.attach(reader)
        with pytest.raises(RetriableSourceError, match="run the sync again"):
            spool.wait()
        spool.close()

    def test_closing_the_spool_stops_a_helper_still_reading(self, tmp_path: Path) -> None:
        path = saved(tmp_path, bundle_bytes())
        spool = EnrollmentSpool(CHUNK)
        reader = EnrollmentReader(path, BundleLimits(), spool)
        spool.attach(reader)
        spool.close()
        assert reader._process.poll() is not None
        # Idempotent: the run's own clean-up may cancel it again.
        reader.cancel()

    def test_a_spool_is_filled_here_or_by_a_helper_not_both(self, tmp_path: Path) -> None:
        path = saved(tmp_path, bundle_bytes())
        spool = spooled_here(path)
        with EnrollmentSpool(CHUNK) as other:
            reader = EnrollmentReader(path, BundleLimits(), other)
            with pytest.raises(RuntimeError, match="not both"):
                spool.attach(reader)
            reader.cancel()
        spool.close()


class TestBundleSourceReadsAside:
    def test_a_big_enough_file_is_read_aside_and_counted_alike(self, tmp_path: Path) -> None:
        path = saved(tmp_path, bundle_bytes())
        here, aside = BundleSource(path), BundleSource(path, aside_bytes=0)
        with EnrollmentSpool(CHUNK) as spool_here, EnrollmentSpool(CHUNK) as spool_aside:
            assert here.read_enrollments_aside(spool_here) is False
            assert aside.read_enrollments_aside(spool_aside) is True
            pulled_here = list(here.records())
            pulled_aside = list(aside.records())
            spool_aside.wait()
            # The run's own records leave the enrollments to the helper.
            assert [r for r in pulled_here if not isinstance(r, Enrollment)] == pulled_aside
            assert aside.stats.records == here.stats.records
            assert aside.bundle_stats.rows == here.bundle_stats.rows
            assert aside.bundle_stats.encodings == here.bundle_stats.encodings
            assert aside.complete_kinds() == here.complete_kinds() == set(EntityKind)
            assert spool_aside.count == len(small_district().enrollments)
            assert aside.enrollments_aside and not here.enrollments_aside

    def test_bytes_a_small_file_or_no_enrollments_are_read_here(self, tmp_path: Path) -> None:
        files = members(bundle_bytes())
        files["manifest.csv"] = files["manifest.csv"].replace(
            b"file.enrollments,bulk", b"file.enrollments,absent"
        )
        del files["enrollments.csv"]
        without = saved(tmp_path, make_zip(files))
        with EnrollmentSpool(CHUNK) as spool:
            assert not BundleSource(bundle_bytes(), aside_bytes=0).read_enrollments_aside(spool)
            assert not BundleSource(without, aside_bytes=0).read_enrollments_aside(spool)
            small = saved(tmp_path, bundle_bytes())
            assert not BundleSource(small).read_enrollments_aside(spool)
            # A refused bundle is left to `records`, which refuses it where the run expects.
            broken = tmp_path / "broken.zip"
            broken.write_bytes(b"not a zip")
            assert not BundleSource(broken, aside_bytes=0).read_enrollments_aside(spool)

    def test_progress_counts_enrollments_as_the_helper_writes_them(self, tmp_path: Path) -> None:
        path = saved(tmp_path, bundle_bytes())
        reported: list[tuple[str, int]] = []
        source = BundleSource(path, aside_bytes=0)
        with EnrollmentSpool(CHUNK) as spool:
            assert source.read_enrollments_aside(spool, lambda c, n: reported.append((c, n)))
            list(source.records())
            planned = sum(len(rows) for _start, rows in spool.chunks())
        total = len(small_district().enrollments)
        assert planned == total > 2 * CHUNK
        counts = [n for collection, n in reported if collection == "enrollments"]
        # A chunk at a time while the plan reads them, never more than were read, then exact.
        assert counts[:-1] == list(range(CHUNK, total, CHUNK))
        assert counts[-1] == total
