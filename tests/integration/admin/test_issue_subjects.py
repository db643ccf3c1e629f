"""The simulator's planted bad records are named on the open-issues page and in its CSV: the
student's name, student ID and school first, the ClassLink sourcedId second."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

import httpx
import pytest
from tests.integration import sandboxes
from tests.integration.admin.conftest import AdminWorld, staff_sign_in

from rostersync.notify.csvfile import COLUMNS
from rostersync.simulator.district import PlantedProblem


@pytest.fixture(autouse=True)
def data_manager(browser: httpx.Client, world: AdminWorld) -> None:
    staff_sign_in(browser, world.dm_springfield.email)


def planted(problem: str) -> tuple[PlantedProblem, dict[str, Any], dict[str, str]]:
    """The planted problem, its student as the roster sent it, and the roster's schools."""
    data = sandboxes.springfield(40, bad_records=True).data  # the world's roster (seed 3)
    found = next(p for p in data.planted if p.problem == problem)
    sid = found.related[0] if found.entity == "enrollment" else found.sourced_id
    user = next(u for u in data.users if u["sourcedId"] == sid)
    return found, user, {o["sourcedId"]: o["name"] for o in data.orgs}


def test_the_issues_page_names_a_held_student_before_the_classlink_id(
    browser: httpx.Client,
) -> None:
    problem, user, schools = planted("missing_grade")
    page = browser.get("/admin/districts/springfield/issues")
    assert page.status_code == 200
    text = html.unescape(page.text)
    name = f"{user['givenName']} {user['familyName']}"
    school = schools[user["orgs"][0]["sourcedId"]]
    row = text[text.index(name) :]
    row = row[: row.index("</tr>")]
    assert user["identifier"] in row and school in row and "student" in row
    assert row.index(name) < row.index(user["identifier"]) < row.index(problem.sourced_id)


def test_a_student_at_an_unknown_school_shows_the_school_sourced_id(
    browser: httpx.Client,
) -> None:
    problem, user, _ = planted("unknown_school")
    text = html.unescape(browser.get("/admin/districts/springfield/issues").text)
    row = text[text.index(f"{user['givenName']} {user['familyName']}") :]
    row = row[: row.index("</tr>")]
    assert user["orgs"][0]["sourcedId"] in row and problem.sourced_id in row


def test_an_enrollment_is_student_in_class(browser: httpx.Client) -> None:
    problem, user, _ = planted("unknown_class")
    text = html.unescape(browser.get("/admin/districts/springfield/issues").text)
    at = text.index(problem.sourced_id)
    row = text[text.rindex("<tr>", 0, at) : text.index("</tr>", at)]
    # The class is not in the roster, so only the student is known.
    assert f"{user['givenName']} {user['familyName']}" in row


def test_the_csv_carries_name_student_id_grade_and_school(
    browser: httpx.Client, world: AdminWorld
) -> None:
    problem, user, schools = planted("missing_grade")
    body = browser.get("/admin/districts/springfield/issues.csv").content.decode("utf-8-sig")
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in csv.reader(io.StringIO(body))][1:]
    (row,) = [r for r in rows if r["sourced_id"] == problem.sourced_id]
    assert row["name"] == f"{user['givenName']} {user['familyName']}"
    assert (row["role"], row["student_id"]) == ("student", user["identifier"])
    assert row["school"] == schools[user["orgs"][0]["sourcedId"]]
    assert row["grade"] == "—"  # the planted problem: no grade sent
    assert len(rows) == len(world.service.runs.open_issues("springfield"))


def test_a_record_is_found_by_name_student_id_or_classlink_id(browser: httpx.Client) -> None:
    problem, user, _ = planted("missing_grade")
    every = browser.get("/admin/districts/springfield/issues").text
    for query in (user["familyName"].upper(), user["identifier"], problem.sourced_id):
        page = browser.get("/admin/districts/springfield/issues", params={"sourced_id": query})
        assert problem.sourced_id in page.text and len(page.text) < len(every)
    csv_rows = browser.get(
        "/admin/districts/springfield/issues.csv", params={"sourced_id": user["identifier"]}
    ).text.splitlines()[1:]
    assert csv_rows and all(user["identifier"] in row for row in csv_rows)
