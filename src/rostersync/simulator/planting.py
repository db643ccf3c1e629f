"""Deliberately broken records for testing validators: `generate_district(bad_records=True)`.

Problems planted, 1 to 3 of each depending on size, each recorded in `DistrictData.planted`:

- duplicate_email: a student gets an earlier student's email; planted on the later student,
  `related` names the earlier one.
- duplicate_student_id: the same with `identifier` (the district student ID).
- missing_grade: a student with `grades: []`.
- unknown_school: a student whose `orgs` points at an org sourcedId that does not exist.
- unknown_class: a student's enrollment whose `class` points at a class sourcedId that does not
  exist; `related` names the student.

Planted records are chosen by a second generator seeded from `seed`, so a district generated with
`bad_records=True` differs from the clean one with the same seed only in the planted records.
"""

from __future__ import annotations

import random

from rostersync.simulator.district import DistrictData, PlantedProblem, Record

PROBLEMS: dict[str, str] = {
    "duplicate_email": "two students share one email address",
    "duplicate_student_id": "two students share one student identifier",
    "missing_grade": "a student has no grade (grades: [])",
    "unknown_school": "a user's orgs points at an org that does not exist",
    "unknown_class": "an enrollment's class points at a class that does not exist",
}

MIN_STUDENTS = 7


def plant(data: DistrictData, rng: random.Random, students: int) -> None:
    """Break a few records of `data` in place and list them in `data.planted`.

    Args:
        data: A freshly generated district with at least `MIN_STUDENTS` students.
        rng: The generator that picks the victims (kept apart from the district's own).
        students: The district's size, which sets how many of each problem to plant.
    """
    per_kind = min(3, max(1, students // 2000))
    pupils = [u for u in data.users if u["role"] == "student"]
    # Seven distinct students per round: two pairs, then one for each remaining problem.
    chosen = rng.sample(range(len(pupils)), 7 * per_kind)
    owners = {pupils[i]["sourcedId"] for i in chosen[6::7]}
    enrollments_of: dict[str, list[Record]] = {}
    for enrollment in data.enrollments:
        if enrollment["user"]["sourcedId"] in owners:
            enrollments_of.setdefault(enrollment["user"]["sourcedId"], []).append(enrollment)
    for n in range(per_kind):
        a, b, c, d, *rest = chosen[7 * n : 7 * n + 7]
        ungraded, lost, owner = (pupils[i] for i in rest)
        data.planted.append(_duplicate(pupils, (a, b), "email", "duplicate_email"))
        data.planted.append(_duplicate(pupils, (c, d), "identifier", "duplicate_student_id"))
        ungraded["grades"] = []
        data.planted.append(PlantedProblem("user", ungraded["sourcedId"], "missing_grade"))
        lost["orgs"] = [_dangling(lost["orgs"][0], f"org-{9001 + n}")]
        data.planted.append(PlantedProblem("user", lost["sourcedId"], "unknown_school"))
        enrollment = rng.choice(enrollments_of[owner["sourcedId"]])
        enrollment["class"] = _dangling(enrollment["class"], f"cls-gone-{n + 1}")
        data.planted.append(
            PlantedProblem(
                "enrollment", enrollment["sourcedId"], "unknown_class", (owner["sourcedId"],)
            )
        )


def _duplicate(
    pupils: list[Record], pair: tuple[int, int], field_name: str, problem: str
) -> PlantedProblem:
    """Copy a value from the earlier student (in served order) to the later one."""
    first, second = (pupils[i] for i in sorted(pair))
    second[field_name] = first[field_name]
    return PlantedProblem("user", second["sourcedId"], problem, (first["sourcedId"],))


def _dangling(ref: Record, missing_id: str) -> Record:
    """A GUIDRef like `ref` but to a sourcedId that does not exist (a new dict, never shared)."""
    href = str(ref["href"]).rsplit("/", 1)[0] + "/" + missing_id
    return {"href": href, "sourcedId": missing_id, "type": ref["type"]}
