"""The API's open issues name each record as people know it beside its ClassLink sourcedId (name,
role, the district's student ID, grade, school; an enrollment as its student), and say each fix
for the district's source: a district that pushes files is told to fix the file and push again,
and no issue of theirs mentions ClassLink.

Springfield syncs its planted bad records from the simulator; Ogden pushes a bundle with bad
records over HTTP. The roster each was generated from is the oracle of the names.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from tests.integration.admin.conftest import AdminWorld, staff_sign_in

from rostersync.domain.issue_groups import Audience, problem_fix
from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.services import PUSH_SOURCE_KIND, Questionnaire
from rostersync.simulator import generate_district
from rostersync.simulator.bundle_writer import write_bundle
from rostersync.simulator.district import DistrictData

SUBJECT_KEYS = {"label", "name", "role", "student_id", "grade", "school", "class_code"}


def ogden_roster() -> DistrictData:
    return generate_district(students=40, seed=21, bad_records=True, tenant="ogden")


@pytest.fixture(scope="module")
def ogden(world: AdminWorld) -> str:
    """A district that pushes OneRoster files, with the issues of the bundle it pushed."""
    service = world.service
    service.districts.add(
        Questionnaire(
            slug="ogden",
            name="Ogden School District",
            display_name="Ogden SD – Ogden, UT",
            city="Ogden",
            state="UT",
            source_kind=PUSH_SOURCE_KIND,
            time_zone="America/Denver",
        )
    )
    key, secret = service.push.issue_credentials("ogden", "ops@vendor.example")
    settings = service.settings
    service.push.use_queue(
        JobQueue(
            settings, huey=make_huey(settings, immediate=True), service=service, periodic=False
        )
    )
    bundle = io.BytesIO()
    write_bundle(ogden_roster(), bundle)
    with httpx.Client(base_url=world.url, auth=httpx.BasicAuth(key, secret), timeout=120) as c:
        pushed = c.post(
            "/api/v1/districts/ogden/bundles",
            content=bundle.getvalue(),
            headers={"Content-Type": "application/zip"},
        )
    assert pushed.status_code == 202, pushed.text
    return "ogden"


def listed(browser: httpx.Client, world: AdminWorld, slug: str) -> list[dict[str, Any]]:
    staff_sign_in(browser, world.vendor.email)
    response = browser.get(f"/api/v1/districts/{slug}/issues", params={"limit": 1000})
    assert response.status_code == 200, response.text
    issues: list[dict[str, Any]] = response.json()
    return issues


def person(data: DistrictData, sourced_id: str) -> tuple[str, str, str]:
    """A user's name, student ID and school, from the roster as generated."""
    schools = {o["sourcedId"]: o["name"] for o in data.orgs}
    user = next(u for u in data.users if u["sourcedId"] == sourced_id)
    name = f"{user['givenName']} {user['familyName']}"
    return name, user["identifier"], schools.get(user["orgs"][0]["sourcedId"], "")


def test_each_issue_names_its_person_beside_the_sourced_id(
    browser: httpx.Client, world: AdminWorld
) -> None:
    issues = listed(browser, world, "springfield")
    data = world.sandbox.roster.tenant("springfield").data
    planted = next(p for p in data.planted if p.problem == "missing_grade")
    (found,) = [i for i in issues if i["sourced_id"] == planted.sourced_id]
    name, student_id, school = person(data, planted.sourced_id)
    subject = found["subject"]
    assert set(subject) == SUBJECT_KEYS
    assert (subject["name"], subject["role"], subject["student_id"], subject["school"]) == (
        name,
        "student",
        student_id,
        school,
    )
    assert subject["grade"] == ""  # the problem is that the roster sent none
    assert subject["label"].startswith(f"{name} (student, ID {student_id}")


def test_an_enrollment_is_named_by_its_student(browser: httpx.Client, world: AdminWorld) -> None:
    issues = listed(browser, world, "springfield")
    data = world.sandbox.roster.tenant("springfield").data
    planted = next(p for p in data.planted if p.entity == "enrollment")
    (found,) = [i for i in issues if i["sourced_id"] == planted.sourced_id]
    name, student_id, _ = person(data, planted.related[0])
    # The class it names is not in the roster, so the student alone names it.
    assert found["entity"] == "enrollment"
    assert (found["subject"]["name"], found["subject"]["student_id"]) == (name, student_id)


def test_a_classlink_district_keeps_the_stored_fix(
    browser: httpx.Client, world: AdminWorld
) -> None:
    issues = listed(browser, world, "springfield")
    stored = {
        (i.entity, i.sourced_id, i.code): i for i in world.service.runs.open_issues("springfield")
    }
    for issue in issues:
        kept = stored[(issue["entity"], issue["sourced_id"], issue["code"])]
        assert (issue["message"], issue["fix"]) == (kept.message, kept.fix)


def test_a_district_that_pushes_files_is_told_to_fix_them(
    browser: httpx.Client, world: AdminWorld, ogden: str
) -> None:
    issues = listed(browser, world, ogden)
    assert issues
    for issue in issues:
        assert "ClassLink" not in issue["message"] and "ClassLink" not in issue["fix"]
        assert issue["fix"] == problem_fix(issue["code"], [issue["entity"]], Audience.FILES)
    data = ogden_roster()
    planted = next(p for p in data.planted if p.problem == "unknown_school")
    (found,) = [i for i in issues if i["sourced_id"] == planted.sourced_id]
    assert "orgs.csv" in found["fix"] and "push the files again" in found["fix"]
    assert found["subject"]["name"] == person(data, planted.sourced_id)[0]
