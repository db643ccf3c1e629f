"""A district of any size, streamed: OneRoster 1.1 dicts produced lazily, in bounded memory.

`generate_district` builds lists (about 870 MB per 100k students) from one sequential
`random.Random`, so a record can only be made after every record before it. This module makes the
same shape of district, but every record is a function of `(seed, kind, index)` and of arithmetic
on the district's layout, so:

- each collection is produced on its own and in any order (enrollments without keeping students);
- memory holds only the current school's layout and one record at a time, whatever the size;
- `counts()` and `sizes()` are known up front without generating a single record.

Layout, all derived from `students`: schools of ~400 students (at least 2), each with an
administrator, two aides and a proctor, one teacher per 20 students, its students in contiguous
grade blocks, a parent and a guardian; six courses per grade (four core subjects all year, two
electives in one semester); classes of at most 25, one teacher enrollment each, and so six student
enrollments per student. About 30% of students carry `metadata.eligibility`.

The stream is a separate generator, not the engine behind `generate_district`: the latter's
values (names, timestamps) follow from its sequential generator and many tests and demos rely on
them, so the two give different districts for one seed. The stream plants no bad records.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator

from rostersync.simulator.district import COLLECTIONS, DistrictData, Record
from rostersync.simulator.generator import (
    _CORE,
    _MODIFIED_FROM,
    _MODIFIED_SPAN,
    _SCHOOL_YEAR,
    _STAMP_POOL,
    _SUBJECTS,
    ELIGIBILITY_VALUES,
    _ascii,
    _grade_title,
    _school_bands,
    _scramble,
)
from rostersync.simulator.names import (
    FAMILY_NAMES,
    GIVEN_NAMES,
    SCHOOL_PLACES,
    SCHOOL_PREFIXES,
)
from rostersync.simulator.stream_layout import (
    CLASS_SIZE,
    GAMMA,
    GUARDIAN_ROLES,
    M64,
    STAFF_ROLES,
    STUDENTS_PER_SCHOOL,
    STUDENTS_PER_TEACHER,
    School,
    Section,
    class_sid,
    course_sid,
    guardian_number,
    mix,
    salt_for,
    student_sid,
)

__all__ = ["StreamingDistrict", "iter_district"]


class StreamingDistrict:
    """A deterministic district whose collections are generated lazily, one record at a time.

        district = StreamingDistrict(students=1_000_000, seed=7)
        district.counts()["enrollments"]          # known before generating anything
        for enrollment in district.enrollments():  # bounded memory
            ...

    Each collection method returns a fresh iterator; calling it twice yields identical records.
    `write_bundle` accepts a `StreamingDistrict` in place of a `DistrictData`.
    """

    def __init__(
        self,
        *,
        students: int,
        seed: int,
        tenant: str = "springfield",
        renamed_every: int = 0,
    ) -> None:
        """Describe the district; nothing is generated until a collection is iterated.

        Args:
            students: Number of students (zero or more).
            seed: The same seed always gives identical records.
            tenant: Tenant name, used in the district name, email domains and hrefs.
            renamed_every: When positive, every student whose number is a multiple of it has
                "-Delta" added to its family name (100 renames 1% of students): the same district
                a moment later, for measuring a resync that finds a few changes. Nothing else
                about any record changes.

        Raises:
            ValueError: `students` or `renamed_every` is negative.
        """
        if students < 0:
            raise ValueError("students must be zero or more")
        if renamed_every < 0:
            raise ValueError("renamed_every must be zero or more")
        self.renamed_every = renamed_every
        self.students = students
        self.seed = seed
        self.tenant = tenant
        self.schools = max(2, round(students / STUDENTS_PER_SCHOOL))
        self._href = f"https://{tenant}-sim-v2.rosterserver.invalid/ims/oneroster/v1p1"
        self._staff_domain = f"{_ascii(tenant)}.example.org"
        self._student_domain = f"students.{self._staff_domain}"
        self._bands = _school_bands(self.schools) if self.schools <= 2 else None
        # A fixed pool of timestamps (5,003 strings) costs far less than formatting one per record.
        rng = random.Random(f"{seed}:stamps")
        self._stamps = [
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_MODIFIED_FROM + s))
            for s in sorted(rng.sample(range(_MODIFIED_SPAN), _STAMP_POOL))
        ]

    # Layout ------------------------------------------------------------------------------------
    def _kind(self, index: int) -> str:
        if self._bands is not None:
            return self._bands[index]
        return ("Elementary School", "Middle School", "High School")[index % 3]

    def _iter_schools(self) -> Iterator[School]:
        teachers_before = 0
        for index in range(self.schools):
            first = index * self.students // self.schools
            size = (index + 1) * self.students // self.schools - first
            teachers = max(1, math.ceil(size / STUDENTS_PER_TEACHER))
            yield School(index, self._kind(index), first, size, teachers_before, teachers)
            teachers_before += teachers

    @staticmethod
    def _sections(school: School, first_number: int) -> Iterator[Section]:
        # Teachers take classes in turn across the school, as generate_district assigns them.
        number, turn = first_number, 0
        for position, grade in enumerate(school.grades):
            start, end = school.grade_block(position)
            size = end - start
            sections = math.ceil(size / CLASS_SIZE)
            for period in range(len(_SUBJECTS)):
                for section in range(sections):
                    teacher = school.first_teacher + turn % school.teachers
                    yield Section(number, grade, start, size, period, section, sections, teacher)
                    number += 1
                    turn += 1

    @staticmethod
    def _class_count(school: School) -> int:
        return sum(
            len(_SUBJECTS) * math.ceil((end - start) / CLASS_SIZE)
            for start, end in map(school.grade_block, range(len(school.grades)))
        )

    def _guardian_children(self, school: School) -> tuple[int, ...]:
        """Local index of the child of each of the school's guardians (none without students)."""
        if not school.students:
            return ()
        salt = salt_for(self.seed, "guardian-child")
        return tuple(
            mix((salt + (2 * school.index + k) * GAMMA) & M64) % school.students
            for k in range(len(GUARDIAN_ROLES))
        )

    # Counts ------------------------------------------------------------------------------------
    def sizes(self) -> dict[str, int]:
        """How many records each collection yields, computed from the layout alone.

        Returns:
            A count per 1.1 collection name (orgs, academicSessions, courses, classes, users,
            enrollments).
        """
        counts = self.counts()
        return {
            "orgs": counts["districts"] + counts["schools"],
            "academicSessions": counts["academic_sessions"],
            "courses": counts["courses"],
            "classes": counts["classes"],
            "users": counts["students"] + counts["educators"] + counts["guardians"],
            "enrollments": counts["enrollments"],
        }

    def counts(self) -> dict[str, int]:
        """The same figures as `DistrictData.counts()`, without generating any record.

        Returns:
            Keys students, educators, guardians, schools, districts, academic_sessions, terms,
            courses, classes, enrollments.
        """
        educators, guardians, courses, classes = 1, 0, 0, 0
        for school in self._iter_schools():
            educators += len(STAFF_ROLES) + school.teachers
            guardians += len(GUARDIAN_ROLES) if school.students else 0
            courses += len(school.grades) * len(_SUBJECTS)
            classes += self._class_count(school)
        return {
            "students": self.students,
            "educators": educators,
            "guardians": guardians,
            "schools": self.schools,
            "districts": 1,
            "academic_sessions": 3,
            "terms": 2,
            "courses": courses,
            "classes": classes,
            # One teacher row per class, and each student sits in one class per subject.
            "enrollments": classes + self.students * len(_SUBJECTS),
        }

    def metadata_keys(self, name: str) -> tuple[str, ...]:
        """The `metadata` keys any record of collection `name` may carry (for CSV headers)."""
        return ("eligibility",) if name == "users" else ()

    # Collections -------------------------------------------------------------------------------
    def collection(self, name: str) -> Iterator[Record]:
        """A fresh iterator over one 1.1 collection by its envelope name (e.g. "enrollments").

        Raises:
            KeyError: `name` is not a 1.1 collection.
        """
        producers = {
            "orgs": self.orgs,
            "academicSessions": self.academic_sessions,
            "courses": self.courses,
            "classes": self.classes,
            "users": self.users,
            "enrollments": self.enrollments,
        }
        return producers[name]()

    def _ref(self, collection: str, type_: str, sourced_id: str) -> Record:
        # Every generated sourcedId is letters, digits, '-' and '_', which need no URL quoting.
        href = f"{self._href}/{collection}/{sourced_id}"
        return {"href": href, "sourcedId": sourced_id, "type": type_}

    def _stamp(self, hashed: int) -> str:
        return self._stamps[hashed % _STAMP_POOL]

    def orgs(self) -> Iterator[Record]:
        """The district org, then its schools."""
        salt = salt_for(self.seed, "orgs")
        yield {
            "sourcedId": "org-1",
            "status": "active",
            "dateLastModified": self._stamp(mix(salt)),
            "name": f"{self.tenant.replace('-', ' ').title()} Unified School District",
            "type": "district",
            "identifier": "D-0001",
            "children": [self._ref("orgs", "org", f"org-{101 + i}") for i in range(self.schools)],
        }
        for school in self._iter_schools():
            index = school.index
            place = SCHOOL_PLACES[index % len(SCHOOL_PLACES)]
            prefix = SCHOOL_PREFIXES[(index // len(SCHOOL_PLACES)) % len(SCHOOL_PREFIXES)]
            cycle = index // (len(SCHOOL_PLACES) * len(SCHOOL_PREFIXES))
            yield {
                "sourcedId": school.sourced_id,
                "status": "active",
                "dateLastModified": self._stamp(mix((salt + (index + 1) * GAMMA) & M64)),
                "name": f"{prefix}{place} {school.kind}" + (f" {cycle + 1}" if cycle else ""),
                "type": "school",
                "identifier": f"{101 + index:04d}",
                "parent": self._ref("orgs", "org", "org-1"),
                "children": [],
            }

    def academic_sessions(self) -> Iterator[Record]:
        """The school year, then its fall and spring terms."""
        salt = salt_for(self.seed, "academicSessions")
        start = int(_SCHOOL_YEAR) - 1
        spans = (
            ("fall", f"Fall {start}", f"{start}-08-17", f"{start}-12-18"),
            ("spring", f"Spring {_SCHOOL_YEAR}", f"{_SCHOOL_YEAR}-01-05", f"{_SCHOOL_YEAR}-06-11"),
        )
        year_id = f"as-{_SCHOOL_YEAR}"
        yield {
            "sourcedId": year_id,
            "status": "active",
            "dateLastModified": self._stamp(mix(salt)),
            "title": f"{start}-{_SCHOOL_YEAR} School Year",
            "type": "schoolYear",
            "startDate": f"{start}-08-17",
            "endDate": f"{_SCHOOL_YEAR}-06-11",
            "schoolYear": _SCHOOL_YEAR,
            "children": [
                self._ref("academicSessions", "academicSession", f"{year_id}-{slug}")
                for slug, *_ in spans
            ],
        }
        for n, (slug, title, begin, end) in enumerate(spans, start=1):
            yield {
                "sourcedId": f"{year_id}-{slug}",
                "status": "active",
                "dateLastModified": self._stamp(mix((salt + n * GAMMA) & M64)),
                "title": title,
                "type": "term",
                "startDate": begin,
                "endDate": end,
                "schoolYear": _SCHOOL_YEAR,
                "parent": self._ref("academicSessions", "academicSession", year_id),
                "children": [],
            }

    def courses(self) -> Iterator[Record]:
        """Six courses (one per subject) for every grade each school teaches."""
        salt = salt_for(self.seed, "courses")
        year_ref = self._ref("academicSessions", "academicSession", f"as-{_SCHOOL_YEAR}")
        n = 0
        for school in self._iter_schools():
            school_ref = self._ref("orgs", "org", school.sourced_id)
            for grade in school.grades:
                for code, subject in _SUBJECTS:
                    n += 1
                    yield {
                        "sourcedId": course_sid(school, code, grade),
                        "status": "active",
                        "dateLastModified": self._stamp(mix((salt + n * GAMMA) & M64)),
                        "title": f"{subject} {_grade_title(grade)}",
                        "schoolYear": dict(year_ref),
                        "courseCode": f"{code}-{grade}",
                        "grades": [grade],
                        "subjects": [subject],
                        "org": dict(school_ref),
                        "subjectCodes": [],
                        "resources": [],
                    }

    def classes(self) -> Iterator[Record]:
        """Sections of at most 25 students per course; core subjects span both terms."""
        salt = salt_for(self.seed, "classes")
        terms = [
            self._ref("academicSessions", "academicSession", f"as-{_SCHOOL_YEAR}-{slug}")
            for slug in ("fall", "spring")
        ]
        number = 1
        for school in self._iter_schools():
            school_ref = self._ref("orgs", "org", school.sourced_id)
            for s in self._sections(school, number):
                code, subject = _SUBJECTS[s.period]
                course_id = course_sid(school, code, s.grade)
                # Electives alternate semesters by subject and grade, as generate_district does.
                if code in _CORE:
                    class_terms = terms
                else:
                    class_terms = [terms[(s.period + int(s.grade.replace("KG", "0"))) % 2]]
                yield {
                    "sourcedId": class_sid(s.number),
                    "status": "active",
                    "dateLastModified": self._stamp(mix((salt + s.number * GAMMA) & M64)),
                    "title": f"{subject} {_grade_title(s.grade)} - Section {s.section + 1}",
                    "classCode": f"{code}-{s.grade}-{s.section + 1:02d}",
                    "classType": "scheduled",
                    "location": f"Room {100 + (s.section * 7 + s.period) % 200}",
                    "grades": [s.grade],
                    "subjects": [subject],
                    "course": self._ref("courses", "course", course_id),
                    "school": dict(school_ref),
                    "terms": [dict(t) for t in class_terms],
                    "subjectCodes": [],
                    "periods": [str(s.period + 1)],
                    "resources": [],
                }
            number += self._class_count(school)

    def users(self) -> Iterator[Record]:
        """The district administrator, then per school: staff, teachers, students, guardians."""
        salt = salt_for(self.seed, "users")
        yield self._person("administrator", "stf", 1, "org-1", salt)
        for school in self._iter_schools():
            org_id = school.sourced_id
            for k, role in enumerate(STAFF_ROLES):
                number = 2 + school.index * len(STAFF_ROLES) + k
                yield self._person(role, "stf", number, org_id, salt)
            for t in range(school.first_teacher, school.first_teacher + school.teachers):
                yield self._person("teacher", "tch", t + 1, org_id, salt)
            children = self._guardian_children(school)
            guardian_of = {child: guardian_number(school, k) for k, child in enumerate(children)}
            org_ref = self._ref("orgs", "org", org_id)
            for position, grade in enumerate(school.grades):
                start, end = school.grade_block(position)
                for local in range(start, end):
                    student = self._student(school.first_student + local + 1, grade, org_ref, salt)
                    for child, number in guardian_of.items():
                        if child == local:
                            gid = f"gdn-{number:05d}"
                            student["agents"].append(self._ref("users", "user", gid))
                    yield student
            for k, child in enumerate(children):
                guardian = self._person(
                    GUARDIAN_ROLES[k], "gdn", guardian_number(school, k), org_id, salt
                )
                guardian["email"] = f"{guardian['username']}@example.net"
                guardian["userIds"] = []
                child_id = student_sid(school.first_student + child + 1)
                guardian["agents"] = [self._ref("users", "user", child_id)]
                yield guardian

    def _person(self, role: str, prefix: str, number: int, org_id: str, salt: int) -> Record:
        # Staff, teachers and guardians draw from separate lanes of the hash by their prefix.
        lane = {"stf": 1, "tch": 2, "gdn": 3}[prefix]
        h = mix((salt + (number * 4 + lane) * GAMMA) & M64)
        given = GIVEN_NAMES[h % len(GIVEN_NAMES)]
        family = FAMILY_NAMES[(h >> 8) % len(FAMILY_NAMES)]
        handle = f"{_ascii(given)}.{_ascii(family)}.{prefix}{number}"
        return {
            "sourcedId": f"{prefix}-{number:05d}",
            "status": "active",
            "dateLastModified": self._stamp(h >> 16),
            "username": handle,
            "userIds": [{"type": "StateID", "identifier": f"E{_scramble(number * 4 + lane)}"}],
            "enabledUser": "true",
            "givenName": given,
            "familyName": family,
            "middleName": "",
            "role": role,
            "identifier": f"{prefix.upper()}{number:05d}",
            "email": f"{handle}@{self._staff_domain}",
            "sms": "",
            "phone": "",
            "agents": [],
            "orgs": [self._ref("orgs", "org", org_id)],
            "grades": [],
            "password": "",
        }

    def _student(self, number: int, grade: str, org_ref: Record, salt: int) -> Record:
        h = mix((salt + number * 4 * GAMMA) & M64)
        given = GIVEN_NAMES[h % len(GIVEN_NAMES)]
        family = FAMILY_NAMES[(h >> 8) % len(FAMILY_NAMES)]
        user: Record = {
            "sourcedId": student_sid(number),
            "status": "active",
            "dateLastModified": self._stamp(h >> 16),
            "username": f"{_ascii(given)[:1]}{_ascii(family)}{number}",
            "userIds": [{"type": "StateID", "identifier": _scramble(number)}],
            "enabledUser": "true",
            "givenName": given,
            "familyName": family + "-Delta" if self._renamed(number) else family,
            "middleName": "",
            "role": "student",
            "identifier": f"S{number:07d}",
            "email": f"{_ascii(given)}.{_ascii(family)}{number}@{self._student_domain}",
            "sms": "",
            "phone": "",
            "agents": [],
            "orgs": [dict(org_ref)],
            "grades": [grade],
            "password": "",
        }
        # Bits 32+ are untouched by the fields above: 30 in 100 students carry an eligibility.
        if (h >> 32) % 100 < 30:
            user["metadata"] = {"eligibility": ELIGIBILITY_VALUES[(h >> 40) % 4]}
        return user

    def _renamed(self, number: int) -> bool:
        return self.renamed_every > 0 and number % self.renamed_every == 0

    def enrollments(self) -> Iterator[Record]:
        """Per class: its teacher (primary), then its students."""
        salt = salt_for(self.seed, "enrollments")
        stamps = self._stamps
        number, n = 1, 0
        for school in self._iter_schools():
            school_ref = self._ref("orgs", "org", school.sourced_id)
            for s in self._sections(school, number):
                class_ref = self._ref("classes", "class", class_sid(s.number))
                people = [(f"tch-{s.teacher + 1:05d}", "teacher", "true")]
                people.extend(
                    (student_sid(school.first_student + local + 1), "student", "false")
                    for local in s.members()
                )
                # The hottest loop (six rows per student): inline the hash and the ref.
                for user_id, role, primary in people:
                    n += 1
                    x = (salt + n * GAMMA) & M64
                    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
                    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
                    yield {
                        "sourcedId": f"enr-{n:08d}",
                        "status": "active",
                        "dateLastModified": stamps[(x ^ (x >> 31)) % _STAMP_POOL],
                        "user": {
                            "href": f"{self._href}/users/{user_id}",
                            "sourcedId": user_id,
                            "type": "user",
                        },
                        "class": dict(class_ref),
                        "school": dict(school_ref),
                        "role": role,
                        "primary": primary,
                    }
            number += self._class_count(school)

    def materialise(self) -> DistrictData:
        """Hold the whole district in lists, for the server and tests that need a `DistrictData`.

        Returns:
            The same records the stream yields, as a `DistrictData`.
        """
        data = DistrictData(tenant=self.tenant, seed=self.seed)
        for name in COLLECTIONS:
            data.collection(name).extend(self.collection(name))
        return data


def iter_district(
    *, students: int, seed: int, tenant: str = "springfield"
) -> Iterator[tuple[str, Record]]:
    """Stream a whole district as (collection name, record) pairs, collection by collection.

    Args:
        students: Number of students (zero or more).
        seed: The same seed always gives identical records.
        tenant: Tenant name, used in the district name, email domains and hrefs.

    Yields:
        Pairs in the order orgs, academicSessions, courses, classes, users, enrollments.
    """
    district = StreamingDistrict(students=students, seed=seed, tenant=tenant)
    for name in COLLECTIONS:
        for record in district.collection(name):
            yield name, record
