"""The streaming district generator: determinism, integrity, counts, bundles, bounded memory."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
from collections import Counter

import pytest

from rostersync.domain.records import Person
from rostersync.oneroster.bundle import Bundle
from rostersync.simulator import generate_district
from rostersync.simulator.bundle_writer import write_bundle
from rostersync.simulator.district import COLLECTIONS, DistrictData
from rostersync.simulator.stream import StreamingDistrict, iter_district

REF_TYPES = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
}


@pytest.fixture(scope="module")
def small() -> DistrictData:
    return StreamingDistrict(students=2000, seed=11).materialise()


class TestDeterminism:
    """One seed gives one district, record for record; another seed gives another."""

    def test_two_streams_with_one_seed_are_identical(self) -> None:
        first = list(iter_district(students=900, seed=5))
        second = list(iter_district(students=900, seed=5))
        assert first == second

    def test_different_seeds_give_different_people_and_stamps(self) -> None:
        a = StreamingDistrict(students=900, seed=5)
        b = StreamingDistrict(students=900, seed=6)
        assert list(a.users()) != list(b.users())
        assert list(a.enrollments()) != list(b.enrollments())

    def test_a_collection_does_not_depend_on_what_was_generated_before(self) -> None:
        """Enrollments alone equal enrollments produced after every other collection."""
        alone = list(StreamingDistrict(students=900, seed=5).enrollments())
        after_all = [r for name, r in iter_district(students=900, seed=5) if name == "enrollments"]
        assert alone == after_all


class TestIntegrity:
    """Every reference in a streamed district points at a record the stream yields."""

    def test_every_enrollment_class_user_and_school_exists(self, small: DistrictData) -> None:
        classes = {c["sourcedId"] for c in small.classes}
        users = {u["sourcedId"] for u in small.users}
        schools = {o["sourcedId"] for o in small.orgs if o["type"] == "school"}
        for enrollment in small.enrollments:
            assert enrollment["class"]["sourcedId"] in classes
            assert enrollment["user"]["sourcedId"] in users
            assert enrollment["school"]["sourcedId"] in schools

    def test_every_class_school_course_and_term_exists(self, small: DistrictData) -> None:
        courses = {c["sourcedId"] for c in small.courses}
        schools = {o["sourcedId"] for o in small.orgs if o["type"] == "school"}
        terms = {s["sourcedId"] for s in small.academicSessions if s["type"] == "term"}
        for klass in small.classes:
            assert klass["course"]["sourcedId"] in courses
            assert klass["school"]["sourcedId"] in schools
            assert {t["sourcedId"] for t in klass["terms"]} <= terms

    def test_refs_name_the_right_type_and_guardians_point_both_ways(
        self, small: DistrictData
    ) -> None:
        ids = {name: {r["sourcedId"] for r in small.collection(name)} for name in REF_TYPES}
        for user in small.users:
            for org in user["orgs"]:
                assert (org["sourcedId"] in ids["orgs"], org["type"]) == (True, "org")
            for agent in user["agents"]:
                assert (agent["sourcedId"] in ids["users"], agent["type"]) == (True, "user")
        by_id = {u["sourcedId"]: u for u in small.users}
        guardians = [u for u in small.users if u["role"] in ("parent", "guardian")]
        assert guardians
        for guardian in guardians:
            child = by_id[guardian["agents"][0]["sourcedId"]]
            assert guardian["sourcedId"] in {a["sourcedId"] for a in child["agents"]}

    def test_sourced_ids_emails_and_student_ids_are_unique(self, small: DistrictData) -> None:
        for name in COLLECTIONS:
            ids = [r["sourcedId"] for r in small.collection(name)]
            assert len(ids) == len(set(ids)), name
        emails = [u["email"] for u in small.users]
        assert len(emails) == len(set(emails))
        identifiers = [u["identifier"] for u in small.users]
        assert len(identifiers) == len(set(identifiers))


class TestShape:
    """A streamed district looks like a generated one: same fields, realistic proportions."""

    def test_records_carry_the_same_fields_as_generate_district(self, small: DistrictData) -> None:
        listed = generate_district(students=400, seed=11)
        for name in COLLECTIONS:
            expected = {k for r in listed.collection(name) for k in r}
            assert {k for r in small.collection(name) for k in r} == expected, name

    def test_proportions_of_schools_teachers_enrollments_and_eligibility(
        self, small: DistrictData
    ) -> None:
        roles = Counter(u["role"] for u in small.users)
        assert roles["student"] == 2000
        assert 100 <= roles["teacher"] <= 110  # one per 20 students, rounded up per school
        assert sum(1 for o in small.orgs if o["type"] == "school") == 5
        per_student = Counter(
            e["user"]["sourcedId"] for e in small.enrollments if e["role"] == "student"
        )
        assert set(per_student.values()) == {6}
        teacher_rows = sum(1 for e in small.enrollments if e["role"] == "teacher")
        assert teacher_rows == len(small.classes)
        eligible = sum(1 for u in small.users if "eligibility" in u.get("metadata", {}))
        assert 0.25 < eligible / 2000 < 0.35
        assert all(u["grades"] for u in small.users if u["role"] == "student")


class TestCounts:
    """counts() and sizes() are known up front and equal what the stream yields."""

    @pytest.mark.parametrize("students", [0, 1, 57, 2000, 4321])
    def test_sizes_equal_the_yielded_records(self, students: int) -> None:
        district = StreamingDistrict(students=students, seed=3)
        yielded = Counter(name for name, _ in iter_district(students=students, seed=3))
        assert district.sizes() == {name: yielded[name] for name in COLLECTIONS}

    def test_counts_match_district_data_counts_of_the_materialised_stream(
        self, small: DistrictData
    ) -> None:
        assert StreamingDistrict(students=2000, seed=11).counts() == small.counts()

    def test_a_million_students_are_counted_without_generating(self) -> None:
        counts = StreamingDistrict(students=1_000_000, seed=1).counts()
        assert counts["students"] == 1_000_000
        assert 6_000_000 < counts["enrollments"] < 6_300_000

    def test_negative_students_are_refused(self) -> None:
        with pytest.raises(ValueError, match="zero or more"):
            StreamingDistrict(students=-1, seed=1)


class TestBundle:
    """write_bundle writes a stream as a bundle that the bundle reader reads back in full."""

    @pytest.mark.parametrize("version", ["1.1", "1.2"])
    def test_streamed_bundle_reads_back_every_record(self, version: str) -> None:
        district = StreamingDistrict(students=300, seed=4)
        buf = io.BytesIO()
        write_bundle(district, buf, version=version)
        with Bundle(buf.getvalue()) as bundle:
            read = Counter(name for name, _ in bundle.records())
        assert {name: read[name] for name in COLLECTIONS} == district.sizes()

    def test_eligibility_travels_as_a_metadata_column(self) -> None:
        district = StreamingDistrict(students=300, seed=4)
        buf = io.BytesIO()
        write_bundle(district, buf)
        with Bundle(buf.getvalue()) as bundle:
            read = {
                person.sourced_id: person.metadata.get("eligibility")
                for name, person in bundle.records()
                if name == "users" and isinstance(person, Person)
            }
        expected = {
            u["sourcedId"]: u["metadata"]["eligibility"]
            for u in district.users()
            if "metadata" in u
        }
        assert expected
        assert {k: v for k, v in read.items() if v} == expected


_STREAM_200K = """
import json
from rostersync.simulator.stream import StreamingDistrict
district = StreamingDistrict(students=200_000, seed=9)
users = sum(1 for _ in district.users())
enrollments = sum(1 for _ in district.enrollments())
print(json.dumps({"users": users, "enrollments": enrollments}))
"""

# A small launcher between pytest and the measured child. A child's ru_maxrss starts at its
# parent's RSS when it is forked, and RUSAGE_CHILDREN keeps the largest child ever waited for;
# measured from pytest (which may hold whole districts), both would report pytest, not the stream.
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "-c", sys.argv[1]], capture_output=True, text=True,
                      check=True, timeout=240)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({**json.loads(done.stdout), "peak_kb": peak}))
"""


class TestMemory:
    """Streaming 200,000 students' users and enrollments stays far below a list's footprint."""

    def test_peak_rss_stays_under_300_mb_for_200k_students(self) -> None:
        """generate_district holds ~870 MB per 100k students, so lists would need ~1.7 GB here."""
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, _STREAM_200K],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        report = json.loads(done.stdout)
        sizes = StreamingDistrict(students=200_000, seed=9).sizes()
        assert (report["users"], report["enrollments"]) == (sizes["users"], sizes["enrollments"])
        assert 0 < report["peak_kb"] < 300 * 1024


def test_iter_district_yields_collections_in_served_order() -> None:
    names = [name for name, _ in iter_district(students=50, seed=2)]
    assert [n for n, _ in itertools.groupby(names)] == list(COLLECTIONS)
