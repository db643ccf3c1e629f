"""The streamed district's layout: schools, classes and ids as arithmetic on its size.

`StreamingDistrict` (`simulator.stream`) derives every record from this layout and from a hash
of `(seed, kind, index)` (`mix`, `salt_for`), never from a sequential generator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rostersync.simulator.generator import _BANDS

STUDENTS_PER_SCHOOL = 400
STUDENTS_PER_TEACHER = 20
CLASS_SIZE = 25
STAFF_ROLES = ("administrator", "aide", "aide", "proctor")
GUARDIAN_ROLES = ("parent", "guardian")
M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix(x: int) -> int:
    """SplitMix64's finaliser: a cheap, well-spread 64-bit hash of `x`.

    A `random.Random` per record would cost ~10 µs each (its seeding hashes the seed); six million
    enrollments need something closer to one microsecond.
    """
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def salt_for(seed: int, kind: str) -> int:
    """The 64-bit starting point of one kind's hashes for a seed."""
    digest = hashlib.blake2b(f"{seed}:{kind}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class School:
    """One school's place in the district: everything else about it is arithmetic on this."""

    index: int
    kind: str
    first_student: int  # 0-based number of its first student in the district
    students: int
    first_teacher: int  # 0-based number of its first teacher in the district
    teachers: int

    @property
    def sourced_id(self) -> str:
        return f"org-{101 + self.index}"

    @property
    def grades(self) -> tuple[str, ...]:
        return _BANDS[self.kind]

    def grade_block(self, position: int) -> tuple[int, int]:
        """Local [start, end) of the students in the school's `position`-th grade."""
        count = len(self.grades)
        return position * self.students // count, (position + 1) * self.students // count


@dataclass(frozen=True, slots=True)
class Section:
    """One class of a school, as positions: no records, so it is cheap to recompute."""

    number: int  # 1-based, district-wide
    grade: str
    grade_start: int  # local index of the grade block's first student
    grade_size: int
    period: int  # position of the subject in `generator._SUBJECTS`
    section: int
    sections: int
    teacher: int  # 0-based, district-wide

    def members(self) -> range:
        """Local indices of the students in this class: every `sections`-th of the grade."""
        return range(
            self.grade_start + self.section, self.grade_start + self.grade_size, self.sections
        )


def student_sid(number: int) -> str:
    return f"stu-{number:07d}"


def class_sid(number: int) -> str:
    return f"cls-{number:07d}"


def course_sid(school: School, code: str, grade: str) -> str:
    return f"{101 + school.index}_{code}-{grade}"


def guardian_number(school: School, k: int) -> int:
    return 2 * school.index + k + 1
