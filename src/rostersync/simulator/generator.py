"""A deterministic OneRoster 1.1 district: raw JSON dicts exactly as a Roster Server returns them.

Everything comes from `random.Random(seed)` (never the global generator), so one seed gives the same
district on every machine. Shapes follow ClassLink's observed 1.1 output: booleans as the strings
"true"/"false", empty strings rather than nulls for sms/phone/password/classCode, GUIDRefs whose
`href` points at a district host that is not the simulator (clients must never follow hrefs; the
`.invalid` TLD guarantees they cannot). Sessions are one school year, a fall and a spring term, and
two grading periods (quarters) in each term, linked by `parent` and `children`.

With `bad_records=True` a few documented problems are planted; see `rostersync.simulator.planting`.
"""

from __future__ import annotations

import functools
import gc
import math
import random
import time
import unicodedata
from urllib.parse import quote

from rostersync.simulator.district import DistrictData, PlantedProblem, Record
from rostersync.simulator.names import (
    FAMILY_NAMES,
    GIVEN_NAMES,
    SCHOOL_PLACES,
    SCHOOL_PREFIXES,
)
from rostersync.simulator.planting import MIN_STUDENTS, PROBLEMS, plant

__all__ = ["PROBLEMS", "DistrictData", "PlantedProblem", "generate_district"]


ELIGIBILITY_VALUES = ("RD", "BVI", "OPD", "N")

_BANDS: dict[str, tuple[str, ...]] = {
    "Elementary School": ("KG", "01", "02", "03", "04", "05"),
    "Middle School": ("06", "07", "08"),
    "High School": ("09", "10", "11", "12"),
    "K-8 School": ("KG", "01", "02", "03", "04", "05", "06", "07", "08"),
}
_SUBJECTS = (
    ("MATH", "Mathematics"),
    ("ELA", "English Language Arts"),
    ("SCI", "Science"),
    ("SOC", "Social Studies"),
    ("ART", "Art"),
    ("PE", "Physical Education"),
)
# Core subjects run all year; electives alternate between the two semesters.
_CORE = frozenset({"MATH", "ELA", "SCI", "SOC"})
_STUDENTS_PER_SCHOOL = 400
_STUDENTS_PER_TEACHER = 20
_CLASS_SIZE = 25
_SCHOOL_YEAR = "2027"
# Modification times fall in the summer before the school year, a fixed 90-day span.
_MODIFIED_FROM = 1780272000  # 2026-06-01T00:00:00Z
_MODIFIED_SPAN = 90 * 86400
_STAMP_POOL = 5003
# The grading periods of the fall and spring terms: (quarter, first day, last day).
_START = int(_SCHOOL_YEAR) - 1
_QUARTERS = (
    ((1, f"{_START}-08-17", f"{_START}-10-16"), (2, f"{_START}-10-19", f"{_START}-12-18")),
    (
        (3, f"{_SCHOOL_YEAR}-01-05", f"{_SCHOOL_YEAR}-03-19"),
        (4, f"{_SCHOOL_YEAR}-03-22", f"{_SCHOOL_YEAR}-06-11"),
    ),
)


def generate_district(
    *, students: int, seed: int, bad_records: bool = False, tenant: str = "springfield"
) -> DistrictData:
    """Generate a district deterministically from `seed`.

    Args:
        students: Number of students; schools are sized at about 400 students each (at least 2).
        seed: Seed for `random.Random`; the same seed always gives identical data.
        bad_records: Plant the documented problems of this module and list them in `planted`.
        tenant: Tenant name, used in the district name, email domains and hrefs.

    Returns:
        The generated district.

    Raises:
        ValueError: `students` is negative, or too small to plant problems in.
    """
    if students < 0:
        raise ValueError("students must be zero or more")
    if bad_records and students < MIN_STUDENTS:
        raise ValueError(f"bad_records needs at least {MIN_STUDENTS} students")
    # Hundreds of thousands of small dicts make the cyclic collector run over and over while
    # nothing here can form a cycle worth collecting; pausing it saves about 40% at 100k students.
    collecting = gc.isenabled()
    gc.disable()
    try:
        data = _Builder(tenant=tenant, seed=seed).build(students)
    finally:
        if collecting:
            gc.enable()
    if bad_records:
        plant(data, random.Random(f"planted:{seed}"), students)
    return data


class _Builder:
    """Builds one district; holds the generator and the running sourcedId counters."""

    def __init__(self, *, tenant: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tenant = tenant
        self.data = DistrictData(tenant=tenant, seed=seed)
        self.href_base = f"https://{tenant}-sim-v2.rosterserver.invalid/ims/oneroster/v1p1"
        self.staff_domain = f"{_ascii(tenant)}.example.org"
        self.student_domain = f"students.{self.staff_domain}"
        self.stamps = [
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_MODIFIED_FROM + s))
            for s in sorted(self.rng.sample(range(_MODIFIED_SPAN), _STAMP_POOL))
        ]
        self.refs: dict[tuple[str, str], Record] = {}
        self.user_count = 0
        self.student_count = 0

    def ref(self, collection: str, type_: str, sourced_id: str) -> Record:
        """A fresh GUIDRef; callers may mutate it without touching other records."""
        key = (collection, sourced_id)
        template = self.refs.get(key)
        if template is None:
            # Quoting is the single most expensive step at 100k students, so do it once per id.
            href = f"{self.href_base}/{collection}/{quote(sourced_id, safe='')}"
            template = self.refs[key] = {"href": href, "sourcedId": sourced_id, "type": type_}
        return dict(template)

    def modified(self) -> str:
        # Picking from a pool is several times cheaper than formatting a timestamp per record,
        # which matters with 600k enrollments.
        return self.stamps[int(self.rng.random() * _STAMP_POOL)]

    def build(self, students: int) -> DistrictData:
        schools = max(2, round(students / _STUDENTS_PER_SCHOOL))
        district = self.district()
        year, terms = self.sessions()
        bands = _school_bands(schools)
        for index in range(schools):
            first = index * students // schools
            last = (index + 1) * students // schools
            school = self.school(index, bands[index], district)
            self.populate(school, bands[index], last - first, year, terms)
        return self.data

    def district(self) -> Record:
        org = {
            "sourcedId": "org-1",
            "status": "active",
            "dateLastModified": self.modified(),
            "name": f"{self.tenant.replace('-', ' ').title()} Unified School District",
            "type": "district",
            "identifier": "D-0001",
            "children": [],
        }
        self.data.orgs.append(org)
        admin = self.person("administrator", "stf", org)
        self.data.users.append(admin)
        return org

    def sessions(self) -> tuple[Record, list[Record]]:
        start_year = int(_SCHOOL_YEAR) - 1
        year: Record = {
            "sourcedId": f"as-{_SCHOOL_YEAR}",
            "status": "active",
            "dateLastModified": self.modified(),
            "title": f"{start_year}-{_SCHOOL_YEAR} School Year",
            "type": "schoolYear",
            "startDate": f"{start_year}-08-17",
            "endDate": f"{_SCHOOL_YEAR}-06-11",
            "schoolYear": _SCHOOL_YEAR,
            "children": [],
        }
        spans = (
            ("fall", f"Fall {start_year}", f"{start_year}-08-17", f"{start_year}-12-18"),
            ("spring", f"Spring {_SCHOOL_YEAR}", f"{_SCHOOL_YEAR}-01-05", f"{_SCHOOL_YEAR}-06-11"),
        )
        year_ref = self.ref("academicSessions", "academicSession", year["sourcedId"])
        terms: list[Record] = []
        for slug, title, begin, end in spans:
            term: Record = {
                "sourcedId": f"as-{_SCHOOL_YEAR}-{slug}",
                "status": "active",
                "dateLastModified": self.modified(),
                "title": title,
                "type": "term",
                "startDate": begin,
                "endDate": end,
                "schoolYear": _SCHOOL_YEAR,
                "parent": dict(year_ref),
                "children": [],
            }
            year["children"].append(
                self.ref("academicSessions", "academicSession", term["sourcedId"])
            )
            terms.append(term)
        self.data.academicSessions.extend([year, *terms])
        self.data.academicSessions.extend(self.grading_periods(terms))
        return year, terms

    def grading_periods(self, terms: list[Record]) -> list[Record]:
        """Two quarters per term: gradingPeriod sessions whose parent is the term.

        They take their term's modification time rather than drawing one, so every value the
        generator drew before they existed (names, timestamps, ids) stays what it was.
        """
        periods: list[Record] = []
        for term, quarters in zip(terms, _QUARTERS, strict=True):
            term_ref = self.ref("academicSessions", "academicSession", term["sourcedId"])
            for number, begin, end in quarters:
                period: Record = {
                    "sourcedId": f"as-{_SCHOOL_YEAR}-q{number}",
                    "status": "active",
                    "dateLastModified": term["dateLastModified"],
                    "title": f"Quarter {number} {int(_SCHOOL_YEAR) - 1}-{_SCHOOL_YEAR}",
                    "type": "gradingPeriod",
                    "startDate": begin,
                    "endDate": end,
                    "schoolYear": _SCHOOL_YEAR,
                    "parent": dict(term_ref),
                    "children": [],
                }
                term["children"].append(
                    self.ref("academicSessions", "academicSession", period["sourcedId"])
                )
                periods.append(period)
        return periods

    def school(self, index: int, kind: str, district: Record) -> Record:
        place = SCHOOL_PLACES[index % len(SCHOOL_PLACES)]
        prefix = SCHOOL_PREFIXES[(index // len(SCHOOL_PLACES)) % len(SCHOOL_PREFIXES)]
        cycle = index // (len(SCHOOL_PLACES) * len(SCHOOL_PREFIXES))
        name = f"{prefix}{place} {kind}" + (f" {cycle + 1}" if cycle else "")
        sourced_id = f"org-{101 + index}"
        org = {
            "sourcedId": sourced_id,
            "status": "active",
            "dateLastModified": self.modified(),
            "name": name,
            "type": "school",
            "identifier": f"{101 + index:04d}",
            "parent": self.ref("orgs", "org", "org-1"),
            "children": [],
        }
        district["children"].append(self.ref("orgs", "org", sourced_id))
        self.data.orgs.append(org)
        return org

    def populate(
        self, school: Record, kind: str, students: int, year: Record, terms: list[Record]
    ) -> None:
        users = self.data.users
        staff = [
            self.person(role, "stf", school)
            for role in ("administrator", "aide", "aide", "proctor")
        ]
        teachers = [
            self.person("teacher", "tch", school)
            for _ in range(max(1, math.ceil(students / _STUDENTS_PER_TEACHER)))
        ]
        grades = _BANDS[kind]
        by_grade: dict[str, list[Record]] = {g: [] for g in grades}
        for i in range(students):
            # Contiguous blocks keep grade sizes even across a school.
            grade = grades[i * len(grades) // max(students, 1)]
            by_grade[grade].append(self.student(school, grade))
        guardians = [self.guardian(role, school, by_grade) for role in ("parent", "guardian")]
        users.extend(staff)
        users.extend(teachers)
        for grade in grades:
            users.extend(by_grade[grade])
        users.extend(g for g in guardians if g is not None)
        self.classes(school, grades, by_grade, teachers, year, terms)

    def classes(
        self,
        school: Record,
        grades: tuple[str, ...],
        by_grade: dict[str, list[Record]],
        teachers: list[Record],
        year: Record,
        terms: list[Record],
    ) -> None:
        school_id = school["sourcedId"]
        school_ref = self.ref("orgs", "org", school_id)
        year_ref = self.ref("academicSessions", "academicSession", year["sourcedId"])
        term_refs = [self.ref("academicSessions", "academicSession", t["sourcedId"]) for t in terms]
        next_teacher = 0
        for grade in grades:
            roster = by_grade[grade]
            for position, (code, subject) in enumerate(_SUBJECTS):
                course: Record = {
                    "sourcedId": f"{school_id.removeprefix('org-')}_{code}-{grade}",
                    "status": "active",
                    "dateLastModified": self.modified(),
                    "title": f"{subject} {_grade_title(grade)}",
                    "schoolYear": dict(year_ref),
                    "courseCode": f"{code}-{grade}",
                    "grades": [grade],
                    "subjects": [subject],
                    "org": dict(school_ref),
                    "subjectCodes": [],
                    "resources": [],
                }
                self.data.courses.append(course)
                sections = math.ceil(len(roster) / _CLASS_SIZE)
                if code in _CORE:
                    class_terms = term_refs
                else:
                    class_terms = [term_refs[(position + int(grade.replace("KG", "0"))) % 2]]
                for section in range(sections):
                    teacher = teachers[next_teacher % len(teachers)]
                    next_teacher += 1
                    members = roster[section::sections]
                    self.section(course, section, position, class_terms, teacher, members)

    def section(
        self,
        course: Record,
        section: int,
        period: int,
        term_refs: list[Record],
        teacher: Record,
        members: list[Record],
    ) -> None:
        class_id = f"cls-{len(self.data.classes) + 1:06d}"
        school_ref = course["org"]
        self.data.classes.append(
            {
                "sourcedId": class_id,
                "status": "active",
                "dateLastModified": self.modified(),
                "title": f"{course['title']} - Section {section + 1}",
                "classCode": f"{course['courseCode']}-{section + 1:02d}",
                "classType": "scheduled",
                "location": f"Room {100 + (section * 7 + period) % 200}",
                "grades": list(course["grades"]),
                "subjects": list(course["subjects"]),
                "course": self.ref("courses", "course", course["sourcedId"]),
                "school": dict(school_ref),
                "terms": [dict(t) for t in term_refs],
                "subjectCodes": [],
                "periods": [str(period + 1)],
                "resources": [],
            }
        )
        # The hottest loop of the generator (six rows per student): no method calls per row.
        enrollments = self.data.enrollments
        append, stamps, rnd = enrollments.append, self.stamps, self.rng.random
        class_ref = self.ref("classes", "class", class_id)
        rows = [(self.ref("users", "user", teacher["sourcedId"]), "teacher", "true")]
        rows.extend(
            (self.ref("users", "user", m["sourcedId"]), "student", "false") for m in members
        )
        for user_ref, role, primary in rows:
            append(
                {
                    "sourcedId": f"enr-{len(enrollments) + 1:07d}",
                    "status": "active",
                    "dateLastModified": stamps[int(rnd() * _STAMP_POOL)],
                    "user": user_ref,
                    "class": dict(class_ref),
                    "school": dict(school_ref),
                    "role": role,
                    "primary": primary,
                }
            )

    def person(self, role: str, prefix: str, org: Record) -> Record:
        self.user_count += 1
        n = self.user_count
        given, family = self.name()
        handle = f"{_ascii(given)}.{_ascii(family)}{n}"
        org_id = org["sourcedId"]
        return {
            "sourcedId": f"{prefix}-{n:05d}",
            "status": "active",
            "dateLastModified": self.modified(),
            "username": handle,
            "userIds": [{"type": "StateID", "identifier": f"E{_scramble(n)}"}],
            "enabledUser": "true",
            "givenName": given,
            "familyName": family,
            "middleName": "",
            "role": role,
            "identifier": f"{'T' if role == 'teacher' else 'E'}{n:05d}",
            "email": f"{handle}@{self.staff_domain}",
            "sms": "",
            "phone": "",
            "agents": [],
            "orgs": [self.ref("orgs", "org", org_id)],
            "grades": [],
            "password": "",
        }

    def student(self, school: Record, grade: str) -> Record:
        self.student_count += 1
        n = self.student_count
        given, family = self.name()
        user: Record = {
            "sourcedId": f"stu-{n:06d}",
            "status": "active",
            "dateLastModified": self.modified(),
            "username": f"{_ascii(given)[:1]}{_ascii(family)}{n}",
            "userIds": [{"type": "StateID", "identifier": _scramble(n)}],
            "enabledUser": "true",
            "givenName": given,
            "familyName": family,
            "middleName": "",
            "role": "student",
            "identifier": f"S{n:06d}",
            "email": f"{_ascii(given)}.{_ascii(family)}{n}@{self.student_domain}",
            "sms": "",
            "phone": "",
            "agents": [],
            "orgs": [self.ref("orgs", "org", school["sourcedId"])],
            "grades": [grade],
            "password": "",
        }
        if self.rng.random() < 0.3:
            user["metadata"] = {"eligibility": self.rng.choice(ELIGIBILITY_VALUES)}
        return user

    def guardian(
        self, role: str, school: Record, by_grade: dict[str, list[Record]]
    ) -> Record | None:
        pupils = [s for roster in by_grade.values() for s in roster[:1]]
        if not pupils:
            return None
        child = self.rng.choice(pupils)
        user = self.person(role, "gdn", school)
        user["email"] = f"{user['username']}@example.net"
        user["userIds"] = []
        user["agents"] = [self.ref("users", "user", child["sourcedId"])]
        child["agents"].append(self.ref("users", "user", user["sourcedId"]))
        return user

    def name(self) -> tuple[str, str]:
        rng = self.rng
        return (
            GIVEN_NAMES[int(rng.random() * len(GIVEN_NAMES))],
            FAMILY_NAMES[int(rng.random() * len(FAMILY_NAMES))],
        )


def _school_bands(schools: int) -> list[str]:
    if schools == 2:
        return ["K-8 School", "High School"]
    cycle = ("Elementary School", "Middle School", "High School")
    return [cycle[i % 3] for i in range(schools)]


def _grade_title(grade: str) -> str:
    return "Kindergarten" if grade == "KG" else f"Grade {int(grade)}"


@functools.cache
def _ascii(text: str) -> str:
    """Lower-case ASCII letters and digits only, for usernames and email local parts."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded.lower() if c.isalnum())


def _scramble(n: int) -> str:
    # 7919 is prime and coprime to 10**10, so this is a bijection: unique, but not sequential.
    return f"{(n * 7919 + 1234567) % 10**10:010d}"
