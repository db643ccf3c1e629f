"""The benchmark's inputs: the renamed district, its bundles, and the read-and-parse bound."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.sync_bench import RENAMED_EVERY, _task_read, bundle_paths

from rostersync.domain.records import Person
from rostersync.simulator.bundle_writer import write_bundle
from rostersync.simulator.stream import StreamingDistrict
from rostersync.sync.bundle_source import BundleSource


class TestRenamedDistrict:
    """The 1% delta is the same district with every 100th student's family name changed."""

    def test_exactly_every_hundredth_student_changes_family_name_and_nothing_else(self) -> None:
        base = list(StreamingDistrict(students=1000, seed=3).users())
        renamed = list(StreamingDistrict(students=1000, seed=3, renamed_every=100).users())
        assert len(base) == len(renamed)
        changed = [(a, b) for a, b in zip(base, renamed, strict=True) if a != b]
        assert len(changed) == 10  # 1% of 1,000 students
        for before, after in changed:
            assert before["role"] == "student"
            assert int(before["sourcedId"].removeprefix("stu-")) % 100 == 0
            assert after["familyName"] == before["familyName"] + "-Delta"
            assert {k: v for k, v in after.items() if k != "familyName"} == {
                k: v for k, v in before.items() if k != "familyName"
            }

    def test_other_collections_are_untouched(self) -> None:
        base = StreamingDistrict(students=500, seed=3)
        renamed = StreamingDistrict(students=500, seed=3, renamed_every=100)
        for name in ("orgs", "academicSessions", "courses", "classes", "enrollments"):
            assert list(base.collection(name)) == list(renamed.collection(name))

    def test_a_negative_interval_is_refused(self) -> None:
        try:
            StreamingDistrict(students=10, seed=1, renamed_every=-1)
        except ValueError as exc:
            assert "renamed_every" in str(exc)
        else:
            raise AssertionError("a negative renamed_every was accepted")


class TestBundles:
    """Bundles are named by size and seed, so a later run can reuse them."""

    def test_paths_name_size_seed_and_the_renamed_twin(self, tmp_path: Path) -> None:
        base, renamed = bundle_paths(tmp_path, 1_000_000, 7)
        assert base == tmp_path / "district-1000000-s7.zip"
        assert renamed == tmp_path / f"district-1000000-s7-renamed{RENAMED_EVERY}.zip"


class TestReadParseBound:
    """The read-and-parse lower bound maps every row of the bundle the sync reads."""

    def test_it_counts_every_record_the_district_has(self, tmp_path: Path) -> None:
        district = StreamingDistrict(students=300, seed=5)
        path = tmp_path / "district.zip"
        write_bundle(district, path)
        seconds, detail = _task_read(argparse.Namespace(bundle=str(path)))
        assert seconds > 0
        assert detail["records"] == district.sizes()

    def test_renamed_students_read_back_with_their_new_family_name(self, tmp_path: Path) -> None:
        path = tmp_path / "renamed.zip"
        write_bundle(StreamingDistrict(students=300, seed=5, renamed_every=100), path)
        families = {
            r.sourced_id: r.family_name
            for r in BundleSource(path).records()
            if isinstance(r, Person) and r.role == "student"
        }
        renamed = {sid for sid, family in families.items() if family.endswith("-Delta")}
        assert renamed == {"stu-0000100", "stu-0000200", "stu-0000300"}
