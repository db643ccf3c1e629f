"""The simulator's district generator: determinism, shape, counts, integrity, planted problems."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import pytest

from rostersync.simulator import PROBLEMS, DistrictData, PlantedProblem, generate_district

GRADES = {"KG", *(f"{g:02d}" for g in range(1, 13))}
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
REF_TYPES = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
    "enrollments": "enrollment",
}
COLLECTIONS = tuple(REF_TYPES)


@pytest.fixture(scope="module")
def clean() -> DistrictData:
    return generate_district(students=3000, seed=42)


@pytest.fixture(scope="module")
def bad() -> DistrictData:
    return generate_district(students=5000, seed=42, bad_records=True)


def integrity_violations(data: DistrictData) -> set[tuple[str, str, str]]:
    """Every problem an independent validator finds, as (entity, sourcedId, problem).

    Duplicates are reported on the later record, the way a validator reading in served order
    would. A broken reference of a kind that is never planted is reported as "broken_ref".
    """
    ids = {name: {r["sourcedId"] for r in data.collection(name)} for name in COLLECTIONS}
    found: set[tuple[str, str, str]] = set()

    def check(
        entity: str, record: dict[str, Any], field: str, collection: str, problem: str
    ) -> None:
        value = record.get(field)
        refs = value if isinstance(value, list) else [] if value is None else [value]
        for ref in refs:
            if ref["sourcedId"] not in ids[collection] or ref["type"] != REF_TYPES[collection]:
                found.add((entity, record["sourcedId"], problem))

    for org in data.orgs:
        check("org", org, "parent", "orgs", "broken_ref")
        check("org", org, "children", "orgs", "broken_ref")
    for session in data.academicSessions:
        check("academicSession", session, "parent", "academicSessions", "broken_ref")
        check("academicSession", session, "children", "academicSessions", "broken_ref")
    for course in data.courses:
        check("course", course, "org", "orgs", "broken_ref")
        check("course", course, "schoolYear", "academicSessions", "broken_ref")
    for klass in data.classes:
        check("class", klass, "course", "courses", "broken_ref")
        check("class", klass, "school", "orgs", "broken_ref")
        check("class", klass, "terms", "academicSessions", "broken_ref")
    seen_email: set[str] = set()
    seen_student_id: set[str] = set()
    for user in data.users:
        check("user", user, "orgs", "orgs", "unknown_school")
        check("user", user, "agents", "users", "broken_ref")
        if user["email"] in seen_email:
            found.add(("user", user["sourcedId"], "duplicate_email"))
        seen_email.add(user["email"])
        if user["role"] == "student":
            if user["identifier"] in seen_student_id:
                found.add(("user", user["sourcedId"], "duplicate_student_id"))
            seen_student_id.add(user["identifier"])
            if not user["grades"]:
                found.add(("user", user["sourcedId"], "missing_grade"))
    for enrollment in data.enrollments:
        check("enrollment", enrollment, "user", "users", "broken_ref")
        check("enrollment", enrollment, "class", "classes", "unknown_class")
        check("enrollment", enrollment, "school", "orgs", "broken_ref")
    return found


class TestDeterminism:
    """The same seed gives the same district; another seed gives another."""

    def test_same_seed_gives_identical_data(self, clean: DistrictData) -> None:
        assert generate_district(students=3000, seed=42) == clean

    def test_same_seed_with_bad_records_gives_identical_data_and_plants(
        self, bad: DistrictData
    ) -> None:
        again = generate_district(students=5000, seed=42, bad_records=True)
        assert again == bad
        assert again.planted == bad.planted

    def test_different_seed_gives_different_people(self, clean: DistrictData) -> None:
        other = generate_district(students=3000, seed=43)
        names = [(u["givenName"], u["familyName"]) for u in clean.users]
        assert names != [(u["givenName"], u["familyName"]) for u in other.users]

    def test_bad_records_change_only_the_planted_records(self, bad: DistrictData) -> None:
        """Planting uses its own generator, so everything else matches the clean district."""
        plain = generate_district(students=5000, seed=42)
        touched = {p.sourced_id for p in bad.planted}
        for name in COLLECTIONS:
            changed = {
                b["sourcedId"]
                for a, b in zip(plain.collection(name), bad.collection(name), strict=True)
                if a != b
            }
            assert changed <= touched, name

    def test_global_random_state_is_left_alone(self) -> None:
        import random

        random.seed(1234)
        expected = random.random()
        random.seed(1234)
        generate_district(students=50, seed=9, bad_records=True)
        assert random.random() == expected


class TestCounts:
    """`counts()` reports what was generated, at the documented ratios."""

    def test_counts_match_the_collections(self, clean: DistrictData) -> None:
        counts = clean.counts()
        roles = Counter(u["role"] for u in clean.users)
        assert counts["students"] == 3000 == roles["student"]
        assert counts["educators"] == sum(
            roles[r] for r in ("teacher", "administrator", "aide", "proctor")
        )
        assert counts["guardians"] == roles["parent"] + roles["guardian"] > 0
        assert counts["districts"] == 1
        assert counts["schools"] == len(clean.orgs) - 1
        # One school year, its two terms, and two grading periods in each term.
        assert counts["academic_sessions"] == 7
        assert counts["terms"] == 2
        assert sum(1 for s in clean.academicSessions if s["type"] == "gradingPeriod") == 4
        assert counts["courses"] == len(clean.courses)
        assert counts["classes"] == len(clean.classes)
        assert counts["enrollments"] == len(clean.enrollments)

    @pytest.mark.parametrize(("students", "schools"), [(0, 2), (10, 2), (1000, 2), (4000, 10)])
    def test_about_one_school_per_400_students_and_at_least_two(
        self, students: int, schools: int
    ) -> None:
        assert generate_district(students=students, seed=1).counts()["schools"] == schools

    def test_about_one_teacher_per_20_students(self, clean: DistrictData) -> None:
        teachers = sum(1 for u in clean.users if u["role"] == "teacher")
        assert 3000 / 20 <= teachers <= 3000 / 20 + 10

    def test_every_school_has_an_administrator_aides_and_a_proctor(
        self, clean: DistrictData
    ) -> None:
        staff = Counter(
            (u["orgs"][0]["sourcedId"], u["role"])
            for u in clean.users
            if u["role"] in ("administrator", "aide", "proctor")
        )
        for school in (o for o in clean.orgs if o["type"] == "school"):
            sid = school["sourcedId"]
            assert staff[(sid, "administrator")] >= 1
            assert staff[(sid, "aide")] >= 1
            assert staff[(sid, "proctor")] >= 1

    def test_each_student_is_in_about_six_classes(self, clean: DistrictData) -> None:
        per_student = Counter(
            e["user"]["sourcedId"] for e in clean.enrollments if e["role"] == "student"
        )
        assert len(per_student) == 3000
        assert set(per_student.values()) == {6}

    def test_one_hundred_thousand_students_generate_well_under_ten_seconds(self) -> None:
        """CPU time, not wall time, so a busy machine does not make this flaky."""
        started = time.process_time()
        data = generate_district(students=100_000, seed=5)
        assert time.process_time() - started < 10
        assert data.counts()["students"] == 100_000

    def test_negative_students_are_refused(self) -> None:
        with pytest.raises(ValueError, match="zero or more"):
            generate_district(students=-1, seed=1)

    def test_too_few_students_to_plant_in_are_refused(self) -> None:
        with pytest.raises(ValueError, match="at least 7"):
            generate_district(students=6, seed=1, bad_records=True)


class TestShapes:
    """Records look exactly like OneRoster 1.1 JSON from a ClassLink Roster Server."""

    def test_every_record_has_sourced_id_status_and_utc_modification_time(
        self, clean: DistrictData
    ) -> None:
        for name in COLLECTIONS:
            for record in clean.collection(name):
                assert isinstance(record["sourcedId"], str) and record["sourcedId"]
                assert record["status"] == "active"
                assert ISO_UTC.fullmatch(record["dateLastModified"]), record

    def test_sourced_ids_are_unique_per_collection(self, clean: DistrictData) -> None:
        for name in COLLECTIONS:
            ids = [r["sourcedId"] for r in clean.collection(name)]
            assert len(ids) == len(set(ids)), name

    def test_orgs_are_one_district_and_schools_whose_parent_is_the_district(
        self, clean: DistrictData
    ) -> None:
        (district,) = (o for o in clean.orgs if o["type"] == "district")
        schools = [o for o in clean.orgs if o["type"] == "school"]
        assert all(s["parent"]["sourcedId"] == district["sourcedId"] for s in schools)
        assert {c["sourcedId"] for c in district["children"]} == {s["sourcedId"] for s in schools}

    def test_sessions_are_a_school_year_with_two_term_children(self, clean: DistrictData) -> None:
        (year,) = (s for s in clean.academicSessions if s["type"] == "schoolYear")
        terms = [s for s in clean.academicSessions if s["type"] == "term"]
        assert year["schoolYear"] == "2027"
        assert len(terms) == 2
        assert all(t["parent"]["sourcedId"] == year["sourcedId"] for t in terms)

    def test_each_term_has_two_grading_periods_as_its_children(self, clean: DistrictData) -> None:
        terms = {s["sourcedId"]: s for s in clean.academicSessions if s["type"] == "term"}
        periods = [s for s in clean.academicSessions if s["type"] == "gradingPeriod"]
        assert len(periods) == 2 * len(terms)
        for period in periods:
            term = terms[period["parent"]["sourcedId"]]
            assert period["sourcedId"] in {c["sourcedId"] for c in term["children"]}
            assert term["startDate"] <= period["startDate"] < period["endDate"] <= term["endDate"]
            # Stamped like their term, so no draw of the generator shifts any other value.
            assert period["dateLastModified"] == term["dateLastModified"]
        assert all(len(t["children"]) == 2 for t in terms.values())

    def test_booleans_are_the_strings_true_and_false(self, clean: DistrictData) -> None:
        assert {u["enabledUser"] for u in clean.users} == {"true"}
        assert {e["primary"] for e in clean.enrollments} == {"true", "false"}

    def test_students_carry_grade_identifier_state_id_and_unique_email(
        self, clean: DistrictData
    ) -> None:
        students = [u for u in clean.users if u["role"] == "student"]
        for student in students:
            assert len(student["grades"]) == 1 and student["grades"][0] in GRADES
            assert re.fullmatch(r"S\d{6}", student["identifier"])
            assert student["userIds"][0]["type"] == "StateID"
            assert student["username"] and student["givenName"] and student["familyName"]
        assert {g for s in students for g in s["grades"]} == GRADES
        emails = [u["email"] for u in clean.users]
        assert len(emails) == len(set(emails))
        state_ids = [s["userIds"][0]["identifier"] for s in students]
        assert len(state_ids) == len(set(state_ids))

    def test_about_30_percent_of_students_carry_an_eligibility_value(
        self, clean: DistrictData
    ) -> None:
        students = [u for u in clean.users if u["role"] == "student"]
        values = [s["metadata"]["eligibility"] for s in students if "metadata" in s]
        assert 0.25 < len(values) / len(students) < 0.35
        assert set(values) == {"RD", "BVI", "OPD", "N"}

    def test_guardians_point_at_a_student_who_points_back(self, clean: DistrictData) -> None:
        users = {u["sourcedId"]: u for u in clean.users}
        guardians = [u for u in clean.users if u["role"] in ("parent", "guardian")]
        assert {g["role"] for g in guardians} == {"parent", "guardian"}
        for guardian in guardians:
            (child_ref,) = guardian["agents"]
            child = users[child_ref["sourcedId"]]
            assert child["role"] == "student"
            assert guardian["sourcedId"] in {a["sourcedId"] for a in child["agents"]}

    def test_every_class_has_exactly_one_primary_teacher_enrollment(
        self, clean: DistrictData
    ) -> None:
        primaries = Counter(
            e["class"]["sourcedId"]
            for e in clean.enrollments
            if e["role"] == "teacher" and e["primary"] == "true"
        )
        assert set(primaries) == {c["sourcedId"] for c in clean.classes}
        assert set(primaries.values()) == {1}

    def test_classes_reference_their_schools_courses_and_terms(self, clean: DistrictData) -> None:
        courses = {c["sourcedId"]: c for c in clean.courses}
        for klass in clean.classes:
            course = courses[klass["course"]["sourcedId"]]
            assert course["org"]["sourcedId"] == klass["school"]["sourcedId"]
            assert klass["terms"] and {t["type"] for t in klass["terms"]} == {"academicSession"}

    def test_names_include_spaces_apostrophes_and_non_ascii(self, clean: DistrictData) -> None:
        family = {u["familyName"] for u in clean.users}
        assert any(" " in f for f in family)
        assert any("'" in f for f in family)
        assert any(not f.isascii() for f in family)
        assert all(u["email"].isascii() for u in clean.users)

    def test_guid_refs_have_href_sourced_id_and_a_1_1_type_token(self, clean: DistrictData) -> None:
        ref = clean.enrollments[0]["user"]
        assert set(ref) == {"href", "sourcedId", "type"}
        assert ref["href"].endswith(f"/ims/oneroster/v1p1/users/{ref['sourcedId']}")
        assert ref["type"] == "user"

    def test_nested_objects_are_never_shared_between_records(self, clean: DistrictData) -> None:
        """Editing one record's reference in a test must not silently edit another record."""
        seen: list[int] = []

        def walk(value: object) -> None:
            if isinstance(value, dict | list):
                seen.append(id(value))
                for item in value.values() if isinstance(value, dict) else value:
                    walk(item)

        for name in COLLECTIONS:
            for record in clean.collection(name):
                for value in record.values():
                    walk(value)
        assert len(seen) == len(set(seen))


class TestReferentialIntegrity:
    """Every reference in clean data resolves; in bad data only the planted ones do not."""

    def test_clean_district_has_no_violations(self, clean: DistrictData) -> None:
        assert integrity_violations(clean) == set()

    def test_bad_district_violations_are_exactly_the_planted_problems(
        self, bad: DistrictData
    ) -> None:
        planted = {(p.entity, p.sourced_id, p.problem) for p in bad.planted}
        assert integrity_violations(bad) == planted


class TestPlantedProblems:
    """`bad_records=True` plants a small, documented set of problems and lists each one."""

    def test_each_kind_is_planted_one_to_three_times(self, bad: DistrictData) -> None:
        kinds = Counter(p.problem for p in bad.planted)
        assert set(kinds) == set(PROBLEMS)
        assert all(1 <= n <= 3 for n in kinds.values())

    def test_every_problem_kind_is_documented_in_the_module(self) -> None:
        import rostersync.simulator.planting as planting

        for problem in PROBLEMS:
            assert f"- {problem}:" in (planting.__doc__ or "")

    def test_duplicates_name_the_earlier_record_that_holds_the_same_value(
        self, bad: DistrictData
    ) -> None:
        users = {u["sourcedId"]: u for u in bad.users}
        order = {u["sourcedId"]: i for i, u in enumerate(bad.users)}
        fields = {"duplicate_email": "email", "duplicate_student_id": "identifier"}
        duplicates = [p for p in bad.planted if p.problem in fields]
        assert duplicates
        for problem in duplicates:
            (earlier,) = problem.related
            field = fields[problem.problem]
            assert users[earlier][field] == users[problem.sourced_id][field]
            assert order[earlier] < order[problem.sourced_id]

    def test_unknown_class_names_the_enrolled_student(self, bad: DistrictData) -> None:
        enrollments = {e["sourcedId"]: e for e in bad.enrollments}
        for problem in (p for p in bad.planted if p.problem == "unknown_class"):
            assert problem.entity == "enrollment"
            assert enrollments[problem.sourced_id]["user"]["sourcedId"] == problem.related[0]

    def test_a_few_thousand_students_get_fewer_plants_than_a_large_district(self) -> None:
        small = generate_district(students=50, seed=3, bad_records=True)
        assert Counter(p.problem for p in small.planted) == dict.fromkeys(PROBLEMS, 1)

    def test_clean_district_plants_nothing(self, clean: DistrictData) -> None:
        assert clean.planted == []

    def test_planted_problem_keeps_the_three_field_constructor(self) -> None:
        problem = PlantedProblem("user", "stu-000001", "missing_grade")
        assert problem.related == ()
