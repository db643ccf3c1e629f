"""Search and a page per record: staff find a person, class or school by name, email, student
ID or ClassLink id, and read it whole (values, eligibility and who set it, classes, open issues
with their fixes, history in names), within their own district only.

The world (tests/integration/admin/conftest.py) is Springfield synced from the ClassLink
simulator with planted bad records; this module renames one student to markup and syncs again,
has a teacher confirm a student's eligibility through the people's portal, and has a data
manager import a staff spreadsheet, all over real HTTP.
"""

from __future__ import annotations

import copy
import csv
import html
import io
import re
from base64 import urlsafe_b64decode as b64decode
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import select
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, AdminWorld, form_csrf, staff_sign_in

from rostersync.domain.issue_groups import Audience, problem_fix
from rostersync.store.people_search import PeopleSeek
from rostersync.store.tables import educators, eligibility, students
from rostersync.web.paging import encode_cursor

HOSTILE = '<script>alert("x")</script>'
RECORDS_DM = "records.dm@springfield.example"
RECORDS_DM_NAME = "Morgan Records"
BASE = "/admin/districts/springfield"
# The family name the roster sends for the lapsed student with their grade dropped (held back).
LAPSED_NEW_NAME = "Renamedwhileheld"


@dataclass
class Scene:
    """What this module did to the world, and the records it looks at."""

    student: dict[str, Any]  # a valid student, as the roster sends them
    hostile: dict[str, Any]  # a valid student renamed to markup
    lapsed: dict[str, Any]  # a provisioned student whose grade the roster then dropped
    held: dict[str, Any]  # the planted student without a grade: never provisioned
    held_problem: str
    teacher: dict[str, Any]  # a teacher who confirmed `confirmed`'s eligibility
    confirmed: str  # that student's sourcedId
    imported_email: str  # an educator a data manager imported from a spreadsheet
    schools: dict[str, str]  # sourcedId → name


def fix_of(issue: Any) -> str:
    """An issue's fix as the record page words it for a ClassLink district."""
    return problem_fix(issue.code, [issue.entity], Audience.CLASSLINK, issue.fix)


def full_name(user: dict[str, Any]) -> str:
    return f"{user['givenName']} {user['familyName']}".strip()


def classlink_sign_in(client: httpx.Client, world: AdminWorld, sourced_id: str) -> None:
    """Sign in to the people's portal through the ClassLink simulator as one Springfield user."""
    start = client.get(
        "/login/start", params={"district": world.sandbox.district_ids["springfield"]}
    )
    assert start.status_code == 303, start.text
    url = start.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    picked = client.post(url.split("?")[0], data={**query, "person": f"1001:{sourced_id}"})
    assert picked.status_code == 302, picked.text
    assert client.get(picked.headers["location"]).status_code == 303


def confirm_someone(world: AdminWorld, teacher: dict[str, Any]) -> str:
    """The teacher confirms the first student on their home page eligible; that student's id."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        classlink_sign_in(client, world, teacher["sourcedId"])
        home = client.get("/").text
        found = re.search(
            r'action="/students/([^/]+)/eligibility".*?name="csrf" value="([^"]+)"', home, re.S
        )
        assert found, home
        portal_id, csrf = found.groups()
        answer = client.post(
            f"/students/{portal_id}/eligibility", data={"status": "eligible", "csrf": csrf}
        )
        assert answer.status_code == 303, answer.text
    with world.service.engine.connect() as conn:
        sourced_id: str = conn.execute(
            select(students.c.sourced_id).where(students.c.id == portal_id)
        ).scalar_one()
    return sourced_id


def import_educator(world: AdminWorld, school: str) -> str:
    """A data manager imports one educator from a spreadsheet; the educator's email."""
    email = "rowan.shelver@springfield.example"
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["first_name", "last_name", "email", "role", "school_identifier_or_sourced_id"])
    writer.writerow(["Rowan", "Shelver", email, "librarian", school])
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, RECORDS_DM).status_code == 303
        page = client.get(f"{BASE}/import")
        answer = client.post(
            f"{BASE}/import",
            data={"csrf": form_csrf(page.text)},
            files={"file": ("staff.csv", out.getvalue().encode(), "text/csv")},
        )
        assert answer.status_code in (200, 303), answer.text
    return email


@pytest.fixture(scope="module")
def scene(world: AdminWorld) -> Scene:
    data = world.sandbox.districts[0].data
    planted = {p.sourced_id for p in data.planted} | {s for p in data.planted for s in p.related}
    valid = [u for u in data.users if u["role"] == "student" and u["sourcedId"] not in planted]
    student, renamed, lapsed = valid[0], valid[1], valid[2]
    held_problem = next(p for p in data.planted if p.problem == "missing_grade")
    held = next(u for u in data.users if u["sourcedId"] == held_problem.sourced_id)
    teacher = next(u for u in data.users if u["sourcedId"].startswith("tch-"))
    # The roster renames a student to markup (the next sync takes it) and drops another's
    # grade (the next sync holds that change back, and the student keeps an open issue).
    tenant = world.sandbox.roster.tenant("springfield")
    edited = copy.deepcopy(tenant.data)
    for user in edited.users:
        if user["sourcedId"] == renamed["sourcedId"]:
            user["givenName"] = HOSTILE
        if user["sourcedId"] == lapsed["sourcedId"]:
            user["grades"] = []
            user["familyName"] = LAPSED_NEW_NAME
    tenant.data = edited
    assert world.service.runs.sync("springfield").status == "succeeded"
    sandboxes.add_staff(
        world.sandbox,
        RECORDS_DM,
        "data_manager",
        password=PASSWORD,
        district="springfield",
        display_name=RECORDS_DM_NAME,
    )
    schools = {o["sourcedId"]: o["name"] for o in data.orgs}
    school = next(o["sourcedId"] for o in data.orgs if o.get("type") == "school")
    return Scene(
        student=student,
        hostile={**renamed, "givenName": HOSTILE},
        lapsed=lapsed,
        held=held,
        held_problem=held_problem.sourced_id,
        teacher=teacher,
        confirmed=confirm_someone(world, teacher),
        imported_email=import_educator(world, school),
        schools=schools,
    )


@pytest.fixture
def staff(browser: httpx.Client, world: AdminWorld, scene: Scene) -> httpx.Client:
    """Springfield's data manager, signed in."""
    assert staff_sign_in(browser, world.dm_springfield.email).status_code == 303
    return browser


def person_url(sourced_id: str) -> str:
    return f"{BASE}/people/{quote(sourced_id, safe='')}"


def section(page: str, heading: str) -> str:
    """The text of the card whose heading is `heading`, entities unescaped."""
    start = page.index(f">{heading}</h2>")
    return html.unescape(page[start : page.index("</section>", start)])


def people_rows(page: str) -> list[str]:
    people = section(page, "People")
    return re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", people, re.S)


class TestSearch:
    def test_a_name_finds_the_student_with_what_people_recognise(
        self, staff: httpx.Client, scene: Scene
    ) -> None:
        user = scene.student
        page = staff.get(f"{BASE}/search", params={"q": user["familyName"].lower()})
        assert page.status_code == 200
        (row,) = [r for r in people_rows(page.text) if user["sourcedId"] in r]
        assert full_name(user) in row and user["identifier"] in row
        assert scene.schools[user["orgs"][0]["sourcedId"]] in row
        assert f'href="{person_url(user["sourcedId"])}"' in row
        # The name first, the ClassLink id second.
        shown = row.index(f"<code>{user['sourcedId']}</code>")
        assert row.index(full_name(user)) < row.index(user["identifier"]) < shown

    def test_a_full_name_in_any_case_narrows_to_the_person(
        self, staff: httpx.Client, scene: Scene
    ) -> None:
        user = scene.student
        page = staff.get(f"{BASE}/search", params={"q": full_name(user).upper()})
        rows = people_rows(page.text)
        assert rows and user["sourcedId"] in rows[0]

    @pytest.mark.parametrize("key", ["identifier", "email", "sourcedId"])
    def test_a_student_id_email_or_classlink_id_finds_exactly_them(
        self, staff: httpx.Client, scene: Scene, key: str
    ) -> None:
        user = scene.student
        text = user[key].upper() if key == "email" else user[key]
        page = staff.get(f"{BASE}/search", params={"q": text})
        (row,) = people_rows(page.text)
        assert user["sourcedId"] in row and full_name(user) in row
        assert "1 person" in section(page.text, "People")

    def test_a_held_student_is_found_by_the_name_the_roster_sent(
        self, staff: httpx.Client, scene: Scene
    ) -> None:
        page = staff.get(f"{BASE}/search", params={"q": scene.held["identifier"]})
        (row,) = people_rows(page.text)
        assert full_name(scene.held) in row and "Held: not in the portal" in row
        assert f'href="{person_url(scene.held_problem)}"' in row

    def test_classes_and_schools_are_found_by_title_code_and_name(
        self, staff: httpx.Client, world: AdminWorld
    ) -> None:
        data = world.sandbox.districts[0].data
        cls = data.classes[0]
        by_code = staff.get(f"{BASE}/search", params={"q": cls["classCode"]}).text
        classes = section(by_code, "Classes")
        assert cls["title"] in classes and cls["sourcedId"] in classes
        assert f'href="{BASE}/classes/{quote(cls["sourcedId"], safe="")}"' in classes
        school = next(o for o in data.orgs if o.get("type") == "school")
        by_name = staff.get(f"{BASE}/search", params={"q": school["name"]}).text
        assert f'href="{BASE}/schools/{quote(school["sourcedId"], safe="")}"' in by_name

    @pytest.mark.parametrize("text", ["%", "_", "a%b", "\\"])
    def test_like_wildcards_match_only_themselves(
        self, world: AdminWorld, staff: httpx.Client, text: str
    ) -> None:
        found = world.service.records.search(world.sandbox.district_ids["springfield"], text)
        assert (found.people.total, found.classes.total, found.schools.total) == (0, 0, 0)
        page = staff.get(f"{BASE}/search", params={"q": text}).text
        assert "No people match" in page and "No classes match" in page

    def test_results_are_capped_and_say_how_many_matched(
        self, world: AdminWorld, staff: httpx.Client
    ) -> None:
        district_id = world.sandbox.district_ids["springfield"]
        every = world.service.records.search(district_id, "e")
        capped = world.service.records.search(district_id, "e", limit=3)
        assert every.people.total > 3
        assert len(capped.people.rows) == 3 and capped.people.total == every.people.total
        assert capped.people.rows == every.people.rows[:3]
        page = staff.get(f"{BASE}/search", params={"q": "e"}).text
        caption = section(page, "People")
        assert f"{every.people.total} people" in caption or "Showing 1–50 of" in caption

    def test_people_found_page_by_keyset_without_overlap_or_gap_both_ways(
        self, world: AdminWorld
    ) -> None:
        district_id = world.sandbox.district_ids["springfield"]
        records = world.service.records
        every = records.search(district_id, "e").people
        assert every.total > 7 and every.total == len(every.rows)  # under the cap: all of them

        def seek(hit: Any, before: bool = False) -> PeopleSeek:
            return PeopleSeek(hit.kind, hit.sourced_id or hit.portal_id, before=before)

        pages: list[list[Any]] = []
        after: PeopleSeek | None = None
        while True:
            page = records.search(district_id, "e", limit=3, people_after=after).people
            assert page.total == every.total and page.skipped == sum(len(p) for p in pages)
            pages.append(page.rows)
            if not page.has_next:
                break
            after = seek(page.rows[-1])
        assert [hit for rows in pages for hit in rows] == every.rows
        # Previous from the last page retraces the same pages.
        back = [pages[-1]]
        while len(back) < len(pages):
            before = seek(back[-1][0], before=True)
            back.append(records.search(district_id, "e", limit=3, people_after=before).people.rows)
        assert back[::-1] == pages

    def test_the_page_after_a_person_links_next_previous_and_first_by_id_only(
        self, world: AdminWorld, staff: httpx.Client
    ) -> None:
        district_id = world.sandbox.district_ids["springfield"]
        every = world.service.records.search(district_id, "e").people
        third = every.rows[2]
        cursor = encode_cursor("people", [third.kind, third.sourced_id or third.portal_id])
        page = staff.get(f"{BASE}/search", params={"q": "e", "cursor": cursor})
        assert page.status_code == 200
        rows = people_rows(page.text)
        assert len(rows) == every.total - 3
        assert every.rows[3].name in html.unescape(rows[0])
        assert f"Showing 4–{every.total} of {every.total} people" in section(page.text, "People")
        pager = page.text[page.text.index('id="people-pages"') :]
        assert 'rel="prev"' in pager and 'rel="next"' not in pager
        pager = pager[: pager.index("</nav>")]
        for href in re.findall(r'href="([^"]+)"', pager):
            cursor_text = b64decode(
                parse_qs(urlsplit(html.unescape(href)).query).get("cursor", [""])[0] + "=="
            )
            assert (
                third.name.encode() not in cursor_text
                and every.rows[3].name.encode() not in cursor_text
            )
        assert staff.get(f"{BASE}/search", params={"q": "e", "cursor": "x"}).status_code == 400

    def test_the_header_has_a_labelled_search_box_on_district_pages(
        self, staff: httpx.Client
    ) -> None:
        page = staff.get(f"{BASE}/issues").text
        header = page[page.index('<header class="top">') : page.index("</header>")]
        assert 'role="search"' in header and f'action="{BASE}/search"' in header
        assert '<label for="records-q"' in header and 'id="records-q"' in header
        assert "records-q" not in staff.get("/admin/districts").text


class TestAPersonsPage:
    def test_it_shows_values_classes_and_the_sync_that_made_them(
        self, staff: httpx.Client, scene: Scene, world: AdminWorld
    ) -> None:
        user = scene.student
        page = staff.get(person_url(user["sourcedId"]))
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert f"<h1>{full_name(user)}" in text
        facts = text[text.index('<dl class="facts">') : text.index("</dl>")]
        for value in ("student", user["identifier"], user["grades"][0], user["sourcedId"]):
            assert value in facts
        assert scene.schools[user["orgs"][0]["sourcedId"]] in facts
        data = world.sandbox.districts[0].data
        titles = {c["sourcedId"]: c["title"] for c in data.classes}
        taken = [
            titles[e["class"]["sourcedId"]]
            for e in data.enrollments
            if e["user"]["sourcedId"] == user["sourcedId"]
        ]
        classes = section(page.text, "Classes")
        assert taken and all(title in classes for title in taken)
        history = section(page.text, "History")
        run = world.service.runs.recent("springfield")[-1]
        assert f'<a href="/admin/runs/{run.id}">ClassLink sync run</a>' in history
        assert "created" in history and f"sync run {run.id}" not in history

    def test_eligibility_names_the_teacher_who_set_it(
        self, staff: httpx.Client, scene: Scene
    ) -> None:
        page = staff.get(person_url(scene.confirmed)).text
        status = section(page, "Eligibility")
        assert "Eligible" in status and full_name(scene.teacher) in status
        assert f'href="{person_url(scene.teacher["sourcedId"])}"' in status
        rows = re.findall(r"<tr>(.*?)</tr>", section(page, "History"), re.S)
        (row,) = [r for r in rows if "eligibility changed" in r]
        assert full_name(scene.teacher) in row
        assert "eligibility changed from unconfirmed to eligible" in row
        assert "educator:" not in page

    def test_a_teachers_page_lists_the_classes_they_teach(
        self, staff: httpx.Client, scene: Scene, world: AdminWorld
    ) -> None:
        data = world.sandbox.districts[0].data
        titles = {c["sourcedId"]: c["title"] for c in data.classes}
        taught = {
            titles[e["class"]["sourcedId"]]
            for e in data.enrollments
            if e["user"]["sourcedId"] == scene.teacher["sourcedId"]
        }
        page = staff.get(person_url(scene.teacher["sourcedId"])).text
        classes = section(page, "Classes taught")
        assert taught and all(title in classes for title in taught)

    def test_a_held_student_shows_the_roster_name_and_the_fix(
        self, staff: httpx.Client, scene: Scene, world: AdminWorld
    ) -> None:
        page = staff.get(person_url(scene.held_problem))
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert f"<h1>{full_name(scene.held)}" in text and "Held:" in text
        assert scene.held["identifier"] in text
        issues = [
            i
            for i in world.service.runs.open_issues("springfield")
            if i.sourced_id == scene.held_problem
        ]
        listed = section(page.text, "Open issues")
        assert issues and all(i.message in listed and fix_of(i) in listed for i in issues)

    def test_a_provisioned_students_open_issue_shows_with_its_fix(
        self, staff: httpx.Client, scene: Scene, world: AdminWorld
    ) -> None:
        user = scene.lapsed
        page = staff.get(person_url(user["sourcedId"])).text
        assert "Held:" not in page
        facts = html.unescape(page[page.index('<dl class="facts">') : page.index("</dl>")])
        assert user["grades"][0] in facts  # the portal keeps the grade it had
        (issue,) = [
            i
            for i in world.service.runs.open_issues("springfield")
            if i.sourced_id == user["sourcedId"]
        ]
        assert issue.code == "missing_grade"
        listed = section(page, "Open issues")
        assert issue.message in listed and fix_of(issue) in listed and "this student" in listed

    def test_a_held_update_shows_what_classlink_sent_beside_what_the_portal_keeps(
        self, staff: httpx.Client, scene: Scene
    ) -> None:
        user = scene.lapsed
        page = staff.get(person_url(user["sourcedId"])).text
        sent = section(page, "What ClassLink sent last")
        rows = re.findall(r'<th scope="row">([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td>', sent)
        assert rows == [("Name", full_name(user), f"{user['givenName']} {LAPSED_NEW_NAME}")]
        # A student whose roster values are all taken has no such section.
        assert (
            "What ClassLink sent last" not in staff.get(person_url(scene.student["sourcedId"])).text
        )

    def test_an_account_made_from_a_spreadsheet_names_the_data_manager(
        self, staff: httpx.Client, scene: Scene
    ) -> None:
        found = staff.get(f"{BASE}/search", params={"q": scene.imported_email}).text
        (row,) = people_rows(found)
        assert "Rowan Shelver" in row and "made in the portal" in row
        link = re.search(r'href="([^"]+)"', row)
        assert link
        page = staff.get(html.unescape(link.group(1))).text
        history = section(page, "History")
        assert RECORDS_DM_NAME in history and "created from spreadsheet" in history
        assert "staff:" not in page

    def test_a_roster_value_is_text_never_markup(self, staff: httpx.Client, scene: Scene) -> None:
        for url, params in (
            (person_url(scene.hostile["sourcedId"]), {}),
            (f"{BASE}/search", {"q": scene.hostile["identifier"]}),
        ):
            page = staff.get(url, params=params).text
            assert HOSTILE not in page
            assert html.escape(HOSTILE, quote=False).replace('"', "&#34;") in page

    def test_a_class_page_lists_teacher_and_students_and_links_them(
        self, staff: httpx.Client, scene: Scene, world: AdminWorld
    ) -> None:
        data = world.sandbox.districts[0].data
        sid = next(
            e["class"]["sourcedId"]
            for e in data.enrollments
            if e["user"]["sourcedId"] == scene.student["sourcedId"]
        )
        page = staff.get(f"{BASE}/classes/{quote(sid, safe='')}")
        assert page.status_code == 200
        members = section(page.text, "Teachers and students")
        assert full_name(scene.student) in members
        assert f'href="{person_url(scene.student["sourcedId"])}"' in members


def unreferenced(page: str) -> str:
    """A page without the reference a refusal may carry (each refusal gets its own)."""
    return re.sub(r"Reference [^\s.)<]+", "Reference", page)


class TestScope:
    def test_another_districts_records_are_the_same_404_as_missing_ones(
        self, world: AdminWorld, scene: Scene
    ) -> None:
        with httpx.Client(base_url=world.url, timeout=30) as other:
            assert staff_sign_in(other, world.dm_shelbyville.email).status_code == 303
            missing = other.get("/admin/districts/shelbyville/people/no-such-person")
            assert missing.status_code == 404
            for path in (
                person_url(scene.student["sourcedId"]),
                person_url(scene.held_problem),
                f"{BASE}/search?q={scene.student['identifier']}",
                f"{BASE}/classes/{quote(world.sandbox.districts[0].data.classes[0]['sourcedId'])}",
                f"{BASE}/schools/{quote(world.sandbox.districts[0].data.orgs[0]['sourcedId'])}",
            ):
                refused = other.get(path)
                assert refused.status_code == 404, path
                assert unreferenced(refused.text) == unreferenced(missing.text), path
            # Shelbyville's generator counts the same sourcedIds: its search finds its own.
            theirs = next(
                u
                for u in world.sandbox.districts[1].data.users
                if u["sourcedId"] == scene.student["sourcedId"]
            )
            assert full_name(theirs) != full_name(scene.student)
            own = other.get(
                "/admin/districts/shelbyville/search", params={"q": scene.student["sourcedId"]}
            ).text
            (row,) = people_rows(own)
            assert full_name(theirs) in row and full_name(scene.student) not in own

    def test_without_a_session_the_pages_send_to_sign_in(
        self, world: AdminWorld, scene: Scene
    ) -> None:
        with httpx.Client(base_url=world.url, timeout=30) as stranger:
            path = person_url(scene.student["sourcedId"])
            answer = stranger.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/staff/login?next=")


def test_the_eligibility_row_and_audit_agree_with_the_page(world: AdminWorld, scene: Scene) -> None:
    """The page's eligibility is the stored one, set by the teacher's account."""
    district = world.sandbox.district_ids["springfield"]
    with world.service.engine.connect() as conn:
        row = conn.execute(
            select(eligibility.c.status, eligibility.c.changed_by)
            .join(students, students.c.id == eligibility.c.student_id)
            .where(students.c.sourced_id == scene.confirmed, students.c.district_id == district)
        ).one()
        teacher_id = conn.execute(
            select(educators.c.id).where(
                educators.c.sourced_id == scene.teacher["sourcedId"],
                educators.c.district_id == district,
            )
        ).scalar_one()
    assert (row.status, row.changed_by) == ("eligible", f"educator:{teacher_id}")
