"""What the walk-through browser tests share: a district fixing its records in its SIS (the
ClassLink simulator's data), and waiting on a run's page for the run to end.

`fix_in_source` is what a district does after reading the portal's "How to fix": it corrects the
records in its SIS, so the next pull from ClassLink serves them fixed. Like the simulator's
`mutations`, it never edits the district it is given: the records it fixes are copies, stamped
with `dateLastModified = at`, and the simulator's tenant is handed the result.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rostersync.simulator.district import COLLECTIONS, DistrictData, PlantedProblem, Record

# The statuses a run page shows once the run no longer runs.
RUN_ENDED = re.compile(r"^(previewed|held|succeeded|approved|discarded|skipped|failed)$")


def fix_in_source(
    data: DistrictData, problems: Iterable[PlantedProblem], *, at: datetime | None = None
) -> DistrictData:
    """The district after its data manager fixed these planted problems in the SIS.

    A duplicated email or student ID gets a value of its own, a missing grade the grade of the
    student's classes, an unknown school the school of the student's classes, and an enrollment
    in a class that does not exist the student's school's first class they are not in.
    """
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lists = {name: list(data.collection(name)) for name in COLLECTIONS}
    where = {(name, r["sourcedId"]): i for name in COLLECTIONS for i, r in enumerate(lists[name])}
    classes = {c["sourcedId"]: c for c in lists["classes"]}

    def touch(collection: str, sourced_id: str) -> Record:
        index = where[(collection, sourced_id)]
        record = copy.deepcopy(lists[collection][index])
        record["dateLastModified"] = stamp
        lists[collection][index] = record
        return record

    def classes_of(student: str) -> list[Record]:
        return [
            classes[e["class"]["sourcedId"]]
            for e in lists["enrollments"]
            if e["user"]["sourcedId"] == student and e["class"]["sourcedId"] in classes
        ]

    for problem in problems:
        if problem.problem == "unknown_class":
            enrollment = touch("enrollments", problem.sourced_id)
            student = problem.related[0]
            taken = {c["sourcedId"] for c in classes_of(student)}
            school = enrollment["school"]["sourcedId"]
            enrollment["class"] = copy.deepcopy(
                next(
                    {"href": _href(c, "classes"), "sourcedId": c["sourcedId"], "type": "class"}
                    for c in lists["classes"]
                    if c["school"]["sourcedId"] == school and c["sourcedId"] not in taken
                )
            )
            continue
        user = touch("users", problem.sourced_id)
        if problem.problem == "duplicate_email":
            local, _, domain = str(user["email"]).partition("@")
            user["email"] = f"{local}.{user['sourcedId']}@{domain}"
        elif problem.problem == "duplicate_student_id":
            user["identifier"] = f"{user['identifier']}-{user['sourcedId']}"
        elif problem.problem == "missing_grade":
            grades = [g for c in classes_of(user["sourcedId"]) for g in c.get("grades", [])]
            user["grades"] = [grades[0] if grades else "05"]
        elif problem.problem == "unknown_school":
            school = next(c["school"] for c in classes_of(user["sourcedId"]))
            user["orgs"] = [copy.deepcopy(school)]
        else:
            raise ValueError(f"no fix known for {problem.problem}")
    return dataclasses.replace(data, **lists)  # type: ignore[arg-type]


def _href(record: Record, collection: str) -> str:
    base = str(record["course"]["href"]).rsplit("/courses/", 1)[0]
    return f"{base}/{collection}/{record['sourcedId']}"


def name_of(data: DistrictData, sourced_id: str) -> str:
    """A user's name as the portal shows it: given name, then family name."""
    user = next(u for u in data.users if u["sourcedId"] == sourced_id)
    return f"{user['givenName']} {user['familyName']}"


def wait_for_run(page: Any, timeout_ms: float = 240_000) -> str:
    """Wait on a run's page until the run has ended (the page reloads itself when it does);
    the status it shows."""
    status = page.locator("#run-status")
    status.filter(has_text=RUN_ENDED).wait_for(timeout=timeout_ms)
    return str(status.inner_text())
