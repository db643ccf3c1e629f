"""The emails of a district that pushes OneRoster files speak of its files, never of ClassLink:
the summary after a pushed bundle's sync and the held email after a push that would deactivate
half the students group the open issues in plain words ("1 student has no grade"), word each
fix for the files (fix the file, push it again), name each example record (name, role, student
ID, school) before its ClassLink sourcedId, and attach the CSV with the same fixes. A ClassLink
district's summary, from the same portal, keeps its SIS wording.

Ogden pushes its bundles over HTTP to a portal on loopback; the sync of each push sends the
email through the job queue, as in production, to an in-memory sender.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from tests.integration import sandboxes
from tests.integration.workflow.conftest import without_users

from rostersync.demo.sandbox import Sandbox
from rostersync.domain.issue_groups import Audience, problem_fix, problem_title
from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.notify.csvfile import COLUMNS
from rostersync.notify.notifier import Notifier
from rostersync.notify.senders import MemorySender
from rostersync.services import PUSH_SOURCE_KIND, Questionnaire
from rostersync.simulator import generate_district
from rostersync.simulator.bundle_writer import write_bundle
from rostersync.simulator.district import DistrictData
from rostersync.store import runs as store_runs
from rostersync.store.tables import integrations

DATA_MANAGER = "dm@ogden.example"
SPRINGFIELD_DM = "dm@springfield.example"


def ogden_roster() -> DistrictData:
    return generate_district(students=40, seed=21, bad_records=True, tenant="ogden")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    settings = sandboxes.portal_settings(
        tmp_path_factory.mktemp("email-names"), portal_base_url="https://portal.example"
    )
    with Sandbox(settings, [sandboxes.springfield(30, bad_records=True)]) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def sender() -> MemorySender:
    return MemorySender()


@pytest.fixture(scope="module")
def ogden(world: Sandbox, sender: MemorySender) -> tuple[str, str]:
    """Ogden, a district that pushes files: its push key and secret."""
    service = world.service
    assert service is not None
    service.districts.add(
        Questionnaire(
            slug="ogden",
            name="Ogden School District",
            display_name="Ogden SD – Ogden, UT",
            city="Ogden",
            state="UT",
            source_kind=PUSH_SOURCE_KIND,
            time_zone="America/Denver",
            data_manager_emails=[DATA_MANAGER],
        )
    )
    key, secret = service.push.issue_credentials("ogden", "ops@vendor.example")
    queue = JobQueue(
        service.settings,
        huey=make_huey(service.settings, immediate=True),
        service=service,
        sender=sender,
        periodic=False,
    )
    service.push.use_queue(queue)
    return key, secret


def push(world: Sandbox, credentials: tuple[str, str], data: DistrictData) -> None:
    bundle = io.BytesIO()
    write_bundle(data, bundle)
    with httpx.Client(base_url=world.url, auth=httpx.BasicAuth(*credentials), timeout=120) as c:
        pushed = c.post(
            "/api/v1/districts/ogden/bundles",
            content=bundle.getvalue(),
            headers={"Content-Type": "application/zip"},
        )
    assert pushed.status_code == 202, pushed.text


def parts(message: EmailMessage) -> tuple[str, str, list[dict[str, str]]]:
    """The text part, the HTML part as read, and the attached CSV's rows by column."""
    text = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert text is not None and page is not None
    (attachment,) = message.iter_attachments()
    raw = attachment.get_payload(decode=True)
    assert isinstance(raw, bytes)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    found = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    return text.get_content(), html.unescape(page.get_content()), found


@pytest.fixture(scope="module")
def summary(
    world: Sandbox, ogden: tuple[str, str], sender: MemorySender
) -> tuple[EmailMessage, Any]:
    """Ogden's summary email after its first push, and its open issues then."""
    push(world, ogden, ogden_roster())
    assert world.service is not None
    (message,) = [m for m in sender.messages if m["To"] == DATA_MANAGER]
    return message, world.service.runs.open_issues("ogden")


def test_a_push_district_summary_names_no_classlink(summary: tuple[EmailMessage, Any]) -> None:
    message, _ = summary
    text, page, rows = parts(message)
    assert "roster sync succeeded" in message["Subject"]
    for said in (message["Subject"], text, page, *(cell for r in rows for cell in r.values())):
        assert "ClassLink" not in said
    assert "in the files you push" in text and "in the files you push" in page
    assert "the sync of your next push picks up the fix" in text


def test_each_problem_is_counted_and_fixed_in_the_files(summary: tuple[EmailMessage, Any]) -> None:
    message, issues = summary
    text, page, rows = parts(message)
    for code in {i.code for i in issues}:
        kinds: dict[str, int] = {}
        for i in issues:
            if i.code == code:
                kinds[i.entity] = kinds.get(i.entity, 0) + 1
        fix = problem_fix(code, kinds, Audience.FILES)
        title = problem_title(code, kinds)
        assert fix, code
        for body in (text, page):
            assert title in body and fix in body, code
    # A student with no grade is told to fill in the grades column and push again.
    grades = problem_fix("missing_grade", ["student"], Audience.FILES)
    assert "users.csv" in grades and "push the files again" in grades
    assert grades in text
    # The CSV says each issue's fix for the files, as the issues page's download does.
    by_id = {(i.entity, i.sourced_id, i.code): i for i in issues}
    assert len(rows) == len(issues)
    for row in rows:
        issue = by_id[(row["entity"], row["sourced_id"], row["code"])]
        assert row["fix"] == problem_fix(issue.code, [issue.entity], Audience.FILES, issue.fix)


def test_each_example_names_the_person_before_the_classlink_id(
    summary: tuple[EmailMessage, Any],
) -> None:
    message, _ = summary
    text, page, rows = parts(message)
    data = ogden_roster()
    schools = {o["sourcedId"]: o["name"] for o in data.orgs}
    planted = next(p for p in data.planted if p.problem == "missing_grade")
    user = next(u for u in data.users if u["sourcedId"] == planted.sourced_id)
    name = f"{user['givenName']} {user['familyName']}"
    school = schools[user["orgs"][0]["sourcedId"]]
    for body in (text, page):
        line = next(ln for ln in body.splitlines() if planted.sourced_id in ln and "grades" in ln)
        assert "student" in line and school in line
        assert line.index(name) < line.index(user["identifier"]) < line.index(planted.sourced_id)
    (row,) = [r for r in rows if r["sourced_id"] == planted.sourced_id]
    assert (row["name"], row["role"], row["student_id"]) == (name, "student", user["identifier"])


def test_a_held_push_lists_the_open_issues_for_the_files(
    world: Sandbox, ogden: tuple[str, str], sender: MemorySender, summary: Any
) -> None:
    data = ogden_roster()
    students = [u["sourcedId"] for u in data.users if u["role"] == "student"]
    before = len(sender.messages)
    push(world, ogden, without_users(data, set(students[: len(students) // 2])))
    assert world.service is not None
    (run,) = world.service.runs.recent("ogden", limit=1)
    assert run.status == "held"
    (message,) = [m for m in sender.messages[before:] if m["To"] == DATA_MANAGER]
    text, page, rows = parts(message)
    assert "held" in message["Subject"]
    for said in (text, page, *(cell for r in rows for cell in r.values())):
        assert "ClassLink" not in said
    assert f"{world.url}/admin/runs/{run.id}" in text
    assert "fix the files and push them again" in text
    grades = problem_fix("missing_grade", ["student"], Audience.FILES)
    assert grades in text and grades in page
    assert len(rows) == len(world.service.runs.open_issues("ogden"))
    # The students it would deactivate are named before their ids; the page has them all.
    kinds = world.service.runs.plan(run.id).summary["kinds"]
    planned = sum(k["deactivated"]["count"] for k in kinds.values() if "deactivated" in k)
    assert f"It would deactivate {planned} records; the first 10:" in text
    # Naming only the first, it links the run's full list of them.
    full_list = f"{world.url}/admin/runs/{run.id}?action=deactivate#changes"
    assert full_list in text and html.escape(full_list) in message.get_body(("html",)).get_content()
    named = [ln for ln in text.splitlines() if re.fullmatch(r"  - .+, student stu-\d+", ln)]
    assert len(named) == 10
    gone = set(students[: len(students) // 2])
    for shown in named:
        sid = shown.rsplit(" ", 1)[1]
        (user,) = [u for u in data.users if u["sourcedId"] == sid]
        assert sid in gone
        full = f"{user['givenName']} {user['familyName']}"
        assert shown.index(full) < shown.index(user["identifier"]) < shown.index(sid)
        assert html.escape(full) in message.get_body(("html",)).get_content()


def test_a_classlink_district_is_still_told_to_fix_its_sis(world: Sandbox) -> None:
    service = world.service
    assert service is not None
    district_id = world.district_ids["springfield"]
    with service.engine.begin() as conn:
        conn.execute(
            update(integrations)
            .where(integrations.c.district_id == district_id)
            .values(data_manager_emails=[SPRINGFIELD_DM])
        )
        (first,) = store_runs.list_runs(conn, district_id)
    sender = MemorySender()
    assert Notifier(service.engine, service.settings, sender).after_run(first.id) == ["summary"]
    (message,) = sender.messages
    text, _, rows = parts(message)
    assert "in your SIS (or in ClassLink)" in text
    assert "the next sync picks up the fix" in text
    assert "push" not in text.lower()
    assert {r["fix"] for r in rows} == {i.fix for i in service.runs.open_issues("springfield")}
