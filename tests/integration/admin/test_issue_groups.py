"""The issues page as a data manager works through it: problems counted in plain words, errors
apart from warnings, each fix in the words of the district's source; the records filtered by
problem, school, grade, role and name (combined), ordered, fifty a page with the total stated
(keyset pages: Next and Previous walk every issue once, in each order),
every link keeping the filters; the download with the same filters; nothing a roster sent ever
rendered as markup.

Springfield is a ClassLink district (its planted bad records synced from the simulator), with a
crowd of further open issues stored the way a run stores them; Ogden pushes OneRoster files and
gets its issues from a bundle it pushes over HTTP. The service's own list of open issues, filtered
in Python, is the oracle of what each filter must show.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import event
from tests.integration.admin.conftest import AdminWorld, staff_sign_in

from rostersync.domain.issues import IssueSubject, Severity, ValidationIssue
from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.notify.csvfile import COLUMNS
from rostersync.services import PUSH_SOURCE_KIND, Questionnaire
from rostersync.simulator import generate_district
from rostersync.simulator.bundle_writer import write_bundle
from rostersync.store import workflow as store_workflow
from rostersync.store.runs import IssueRecord
from rostersync.web.paging import encode_cursor

ISSUES = "/admin/districts/springfield/issues"
SCHOOLS = ("Alpha ES", "Beta MS", "Gamma HS")
CROWD = 120
HOSTILE_NAME = "<script>alert('pwned')</script> Pupil"
HOSTILE_SCHOOL = "=SUM(A1) <b>Bold</b> School"
ACCENTED = "Zoë Müller-Nguyễn"


def stored_issue(
    sid: str, code: str, subject: IssueSubject, severity: Severity = Severity.ERROR
) -> ValidationIssue:
    entity = "student" if subject.role == "student" else "educator"
    return ValidationIssue(
        entity=entity,
        sourced_id=sid,
        field="orgs" if code == "missing_school" else "identifier",
        code=code,
        message=f"{entity.capitalize()} {sid!r} has a problem ({code}).",
        fix="Share it in ClassLink.",
        severity=severity,
        subject=subject,
    )


def crowd() -> list[ValidationIssue]:
    """120 students sharing student IDs at three schools in grades 03 and 07, seven teachers at
    no school, four warnings, a student the roster did not name, a name beyond ASCII, and one
    whose name and school are hostile."""
    found = [
        stored_issue(
            f"crowd-{n:03d}",
            "duplicate_student_id",
            IssueSubject(
                name=f"Pupil {n:03d}",
                role="student",
                student_id=f"D{n:04d}",
                grade=("03", "07")[n % 2],
                school=SCHOOLS[n % 3],
            ),
        )
        for n in range(CROWD)
    ]
    found += [
        stored_issue(
            f"teach-{n}", "missing_school", IssueSubject(name=f"Teacher {n}", role="teacher")
        )
        for n in range(7)
    ]
    found += [
        stored_issue(
            f"warn-{n}",
            "invalid_grade",
            IssueSubject(name=f"Warned {n}", role="student", grade="5th", school="Beta MS"),
            Severity.WARNING,
        )
        for n in range(4)
    ]
    found.append(
        stored_issue("unnamed-1", "missing_givenName", IssueSubject(name="", role="student"))
    )
    found.append(
        stored_issue("accented-1", "invalid_email", IssueSubject(name=ACCENTED, role="student"))
    )
    found.append(
        stored_issue(
            "hostile-1",
            "missing_familyName",
            IssueSubject(
                name=HOSTILE_NAME, role="student", student_id="=1+1", school=HOSTILE_SCHOOL
            ),
        )
    )
    return found


@pytest.fixture(scope="module", autouse=True)
def crowded(world: AdminWorld) -> None:
    """The crowd stored as open issues of Springfield, as a delta run that found them does."""
    district_id = world.sandbox.district_ids["springfield"]
    run_id = world.service.runs.recent("springfield", limit=1)[0].id
    issues = crowd()
    with world.service.engine.begin() as conn:
        store_workflow.reconcile_issues(
            conn,
            run_id=run_id,
            district_id=district_id,
            issues=issues,
            now=datetime.now(UTC),
            scope={i.sourced_id for i in issues},
        )


@pytest.fixture(scope="module")
def ogden(world: AdminWorld) -> str:
    """A district that pushes OneRoster files: it pushes a bundle with bad records over HTTP,
    and the sync of the bundle opens its issues."""
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
            settings,
            huey=make_huey(settings, immediate=True),
            service=service,
            periodic=False,
        )
    )
    bundle = io.BytesIO()
    write_bundle(generate_district(students=40, seed=21, bad_records=True, tenant="ogden"), bundle)
    with httpx.Client(base_url=world.url, auth=httpx.BasicAuth(key, secret), timeout=120) as c:
        pushed = c.post(
            "/api/v1/districts/ogden/bundles",
            content=bundle.getvalue(),
            headers={"Content-Type": "application/zip"},
        )
    assert pushed.status_code == 202, pushed.text
    assert service.runs.open_issues("ogden")
    return "ogden"


@pytest.fixture(autouse=True)
def vendor(browser: httpx.Client, world: AdminWorld) -> None:
    assert staff_sign_in(browser, world.vendor.email).status_code == 303


@dataclass(frozen=True)
class Row:
    name: str
    sourced_id: str
    cells: str


def section(page: str, heading_id: str) -> str:
    """The text of the page's section labelled by `heading_id`."""
    start = page.index(f'id="{heading_id}"')
    return page[start : page.index("</section>", start)]


def rows(page: str) -> list[Row]:
    """The listed issues, in order: each record's name, sourcedId and row."""
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        name = re.search(r"<strong>(.*?)</strong>", row)
        sid = re.search(r"<code>(.*?)</code>", row)
        assert sid, row
        found.append(
            Row(html.unescape(name.group(1)) if name else "", html.unescape(sid.group(1)), row)
        )
    return found


def shown(page: str) -> str:
    found = re.search(r'<p id="issues-shown" role="status">(.*?)</p>', page)
    assert found, page
    return html.unescape(found.group(1))


def link(page: str, rel: str) -> str:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    assert found, rel
    return html.unescape(found.group(1))


def open_issues(world: AdminWorld, keep: Callable[[IssueRecord], bool]) -> list[IssueRecord]:
    return [i for i in world.service.runs.open_issues("springfield") if keep(i)]


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in table[1:]]


class TestProblems:
    """Grouped by problem with counts in plain words, errors apart from warnings."""

    def test_a_classlink_district_is_told_to_fix_its_sis(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        page = html.unescape(browser.get(ISSUES).text)
        errors = section(page, "errors-heading").split('id="warnings-heading"')[0]
        shared = open_issues(world, lambda i: i.code == "duplicate_student_id")
        assert len(shared) > CROWD  # and the planted pair
        assert f"{len(shared)} students share a student ID with another student" in errors
        assert "7 educators are not in any school" in errors
        assert "1 student has no grade" in errors  # the planted one
        fixes = re.findall(r"How to fix:</span> (.*?)</li>", errors, re.S)
        assert fixes and all("push" not in f and ".csv" not in f for f in fixes), fixes
        grade = errors[errors.index("1 student has no grade") :]
        assert "Set the student's grade in the SIS" in grade[: grade.index("</li>")]
        assert "gets its roster from ClassLink" in page
        downloaded = csv_rows(browser.get(f"{ISSUES}.csv", params={"code": "missing_grade"}))
        assert [r["fix"] for r in downloaded] == [
            "Set the student's grade in the SIS (a CEDS code such as KG or 05); the next sync "
            "picks it up."
        ]
        assert ".csv" not in section(page, "problems-heading").replace("Download CSV", "")

    def test_warnings_are_listed_apart_and_say_so_in_words(self, browser: httpx.Client) -> None:
        page = html.unescape(browser.get(ISSUES).text)
        warnings = section(page, "warnings-heading")
        assert "4 students have a grade that is not a CEDS grade code" in warnings
        assert "Warning" in warnings and "Error" not in warnings
        assert (
            "grade that is not a CEDS"
            not in section(page, "errors-heading").split('id="warnings-heading"')[0]
        )
        assert page.index('id="errors-heading"') < page.index('id="warnings-heading"')

    def test_a_push_district_is_told_to_fix_its_files_and_push_again(
        self, browser: httpx.Client, world: AdminWorld, ogden: str
    ) -> None:
        page = html.unescape(browser.get(f"/admin/districts/{ogden}/issues").text)
        problems = section(page, "problems-heading")
        grades = [i for i in world.service.runs.open_issues(ogden) if i.code == "missing_grade"]
        assert f"{len(grades)} student{'s have' if len(grades) > 1 else ' has'} no grade" in (
            problems
        )
        fixes = re.findall(r"How to fix:</span> (.*?)</li>", problems, re.S)
        assert fixes and all("push" in f and "ClassLink" not in f for f in fixes), fixes
        assert "Fill in the grades column of users.csv" in problems
        assert "Add the school to orgs.csv" in problems  # the planted unknown school
        assert "pushes OneRoster files" in page
        # The download's fixes are the page's, not the ClassLink words stored with the issues.
        downloaded = csv_rows(browser.get(f"/admin/districts/{ogden}/issues.csv"))
        assert len(downloaded) == len(world.service.runs.open_issues(ogden))
        assert all("ClassLink" not in r["fix"] and "push" in r["fix"] for r in downloaded)
        # Nor does any message: "the roster ClassLink shared" is "the files the district pushed".
        assert all("ClassLink shared" not in r["message"] for r in downloaded)
        assert "the files the district pushed" in " ".join(r["message"] for r in downloaded)
        assert "ClassLink shared" not in section(page, "records-heading")
        # Each listed issue's fix speaks of the files too, not of the stored ClassLink words.
        assert all("ClassLink" not in r.cells.split("</td><td>")[-1] for r in rows(page))

    def test_the_problem_counts_follow_the_other_filters(self, browser: httpx.Client) -> None:
        page = html.unescape(browser.get(ISSUES, params={"school": "Alpha ES"}).text)
        assert "40 students share a student ID" in section(page, "errors-heading")
        assert "not in any school" not in page.split('id="records-heading"')[0]

    def test_a_problem_links_to_its_records_keeping_the_filters(
        self, browser: httpx.Client
    ) -> None:
        page = browser.get(ISSUES, params={"grade": "07", "sort": "name"}).text
        found = re.search(r'<a href="([^"]+)"><strong>60 students share', html.unescape(page))
        assert found, page
        target = found.group(1)
        assert "grade=07" in target and "sort=name" in target
        assert "code=duplicate_student_id" in target
        listed = browser.get(target).text
        assert shown(listed) == "Showing 1–50 of 60"
        assert 'aria-current="true"' in listed and "Show every problem" in listed


class TestFilters:
    """Each filter, and all of them combined, show what the service's own list says."""

    @pytest.mark.parametrize(
        ("params", "keep"),
        [
            ({"school": "Beta MS"}, lambda i: i.subject_school == "Beta MS"),
            ({"grade": "03"}, lambda i: i.subject_grade == "03"),
            ({"role": "teacher"}, lambda i: i.subject_role == "teacher"),
            ({"code": "invalid_grade"}, lambda i: i.code == "invalid_grade"),
            ({"sourced_id": "pupil 01"}, lambda i: "pupil 01" in (i.subject_name or "").lower()),
            ({"sourced_id": "D0042"}, lambda i: i.subject_student_id == "D0042"),
            (
                {"school": "Gamma HS", "grade": "07", "role": "student"},
                lambda i: (
                    (i.subject_school, i.subject_grade, i.subject_role)
                    == ("Gamma HS", "07", "student")
                ),
            ),
            (
                {"school": "Beta MS", "code": "invalid_grade", "grade": "5th"},
                lambda i: (
                    (i.subject_school, i.code, i.subject_grade)
                    == ("Beta MS", "invalid_grade", "5th")
                ),
            ),
        ],
    )
    def test_a_filter_shows_exactly_its_records(
        self,
        browser: httpx.Client,
        world: AdminWorld,
        params: dict[str, str],
        keep: Callable[[IssueRecord], bool],
    ) -> None:
        wanted = open_issues(world, keep)
        assert 0 < len(wanted) < len(open_issues(world, bool))
        page = browser.get(ISSUES, params={**params, "sort": "name"}).text
        listed = rows(page)
        assert {r.sourced_id for r in listed} <= {i.sourced_id for i in wanted}
        assert len(listed) == min(50, len(wanted))
        assert shown(page) == f"Showing 1–{min(50, len(wanted))} of {len(wanted)}"
        body = browser.get(f"{ISSUES}.csv", params=params)
        assert sorted(r["sourced_id"] for r in csv_rows(body)) == sorted(
            "'" + i.sourced_id if i.sourced_id[:1] in "=+-@" else i.sourced_id for i in wanted
        )

    def test_a_name_is_found_whatever_its_case_also_beyond_ascii(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        page = browser.get(ISSUES, params={"sourced_id": "ZOË MÜLL"}).text
        assert [r.name for r in rows(page)] == [ACCENTED]
        assert shown(page) == "Showing 1–1 of 1"

    def test_the_filters_offer_the_schools_grades_and_roles_of_the_issues(
        self, browser: httpx.Client
    ) -> None:
        page = html.unescape(browser.get(ISSUES).text)
        for label in ("School", "Grade", "Role", "Problem", "Order by"):
            assert re.search(rf'<label for="\w+">{label}</label>', page), label
        grades = section(page, "records-heading")
        grades = grades[
            grades.index('id="grade"') : grades.index("</select>", grades.index('id="grade"'))
        ]
        offered = re.findall(r'<option value="([^"]*)"', grades)
        assert offered[0] == "" and offered.index("03") < offered.index("07")
        assert '<option value="teacher">teacher</option>' in page
        assert '<option value="duplicate_student_id">The same student ID twice</option>' in page

    def test_an_unknown_value_finds_nothing_and_says_so(self, browser: httpx.Client) -> None:
        page = browser.get(ISSUES, params={"school": "No Such School"}).text
        assert rows(page) == [] and "0 open issues match the filters" in page
        assert shown(page) == "No open issue matches."


class TestOrderAndPages:
    def test_by_name_the_records_are_in_alphabetical_order(self, browser: httpx.Client) -> None:
        page = browser.get(ISSUES, params={"school": "Alpha ES", "sort": "name"}).text
        names = [r.name for r in rows(page)]
        assert names == sorted(names) and len(names) == 40

    def test_by_school_the_schools_follow_each_other_and_no_school_is_last(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        school_of = {i.sourced_id: i.subject_school or "" for i in open_issues(world, bool)}
        total = len(open_issues(world, bool))
        schools = [school_of[r.sourced_id].casefold() for r in walk(browser, {"sort": "school"})]
        assert len(schools) == total
        named = [s for s in schools if s]
        assert named == sorted(named)
        assert schools[len(named) :] == [""] * (total - len(named))

    def test_by_problem_errors_come_first(self, browser: httpx.Client, world: AdminWorld) -> None:
        page = browser.get(ISSUES, params={"school": "Beta MS"}).text
        severities = ["Warning" in r.cells for r in rows(page)]
        assert severities == sorted(severities) and any(severities) and not all(severities)

    def test_pages_state_the_total_and_their_links_keep_the_filters(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        wanted = open_issues(world, lambda i: i.subject_role == "student")
        total = len(wanted)
        assert total > 100
        first = browser.get(ISSUES, params={"role": "student", "sort": "name"}).text
        assert shown(first) == f"Showing 1–50 of {total}"
        following = link(first, "next")
        assert "role=student" in following and "sort=name" in following
        assert "cursor=" in following and "page=" not in following
        second = browser.get(following).text
        assert shown(second) == f"Showing 51–100 of {total}"
        back = link(second, "prev")
        assert "role=student" in back and "sort=name" in back and "cursor=" in back
        assert [r.sourced_id for r in rows(browser.get(back).text)] == [
            r.sourced_id for r in rows(first)
        ]
        seen = [r.sourced_id for r in rows(first)] + [r.sourced_id for r in rows(second)]
        assert len(set(seen)) == 100
        names = [r.name for r in rows(first)] + [r.name for r in rows(second)]
        assert [n.casefold() for n in names] == sorted(n.casefold() for n in names)

    @pytest.mark.parametrize("sort", ["problem", "name", "school"])
    def test_next_walks_every_issue_once_and_previous_walks_back(
        self, browser: httpx.Client, world: AdminWorld, sort: str
    ) -> None:
        """Keyset pages, each order: no issue twice, none left out, the counts stated right,
        and Previous from the last page retraces the same pages."""
        pages = walk_pages(browser, {"sort": sort})
        listed = [(r.sourced_id, r.cells) for page in pages for r in rows(page)]
        wanted = open_issues(world, bool)
        total = len(wanted)
        assert len(pages) == (total + 49) // 50 > 2
        assert len(listed) == len(set(listed)) == total
        assert sorted(sid for sid, _ in listed) == sorted(i.sourced_id for i in wanted)
        for number, page in enumerate(pages):
            last = min(total, (number + 1) * 50)
            assert shown(page) == f"Showing {number * 50 + 1}–{last} of {total}"
        back = [pages[-1]]
        while 'rel="prev"' in back[-1]:
            back.append(browser.get(link(back[-1], "prev")).text)
        assert [[r.sourced_id for r in rows(p)] for p in reversed(back)] == [
            [r.sourced_id for r in rows(p)] for p in pages
        ]

    def test_by_name_unnamed_records_come_last_across_pages(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        names = [r.name.casefold() for r in walk(browser, {"sort": "name"})]
        named = [n for n in names if n]
        assert named == sorted(named) and len(named) < len(names)
        assert names[len(named) :] == [""] * (len(names) - len(named))

    def test_the_last_link_shows_the_last_page(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        total = len(open_issues(world, bool))
        first = browser.get(ISSUES, params={"sort": "name"}).text
        last_link = re.search(r'<a href="([^"]+)">Last</a>', first)
        assert last_link, first
        page = browser.get(html.unescape(last_link.group(1))).text
        assert shown(page) == f"Showing {total - 49}–{total} of {total}"
        assert 'rel="next"' not in page and link(page, "prev")
        walked = walk(browser, {"sort": "name"})
        assert [r.sourced_id for r in rows(page)] == [r.sourced_id for r in walked[-50:]]

    def test_a_cursor_that_is_not_the_lists_is_refused_and_one_of_no_issue_starts_over(
        self, browser: httpx.Client
    ) -> None:
        broken = browser.get(ISSUES, params={"cursor": "not-a-cursor"})
        assert broken.status_code == 400 and "first page" in broken.text
        nowhere = encode_cursor("issue-list", ["no-such-issue"])
        page = browser.get(ISSUES, params={"cursor": nowhere}).text
        assert shown(page).startswith("Showing 1–50 of ")


def walk_pages(browser: httpx.Client, params: dict[str, str]) -> list[str]:
    """Every page of the list, from the first, by following Next."""
    pages = [browser.get(ISSUES, params=params).text]
    while 'rel="next"' in pages[-1]:
        pages.append(browser.get(link(pages[-1], "next")).text)
        assert len(pages) < 100, "Next never ends"
    return pages


def walk(browser: httpx.Client, params: dict[str, str]) -> list[Row]:
    """Every listed issue, in the list's order, over all its pages."""
    return [r for page in walk_pages(browser, params) for r in rows(page)]


class TestDownload:
    def test_the_download_carries_the_filters_names_and_student_ids(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        params = {"school": "Gamma HS", "grade": "03", "sort": "name", "page": "2"}
        page = browser.get(ISSUES, params=params).text
        download = re.search(r'<a class="button" href="([^"]+)" id="issues-download">', page)
        assert download, page
        url = html.unescape(download.group(1))
        assert "school=Gamma+HS" in url and "grade=03" in url and "page=" not in url
        response = browser.get(url)
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        got = csv_rows(response)
        wanted = open_issues(
            world, lambda i: (i.subject_school, i.subject_grade) == ("Gamma HS", "03")
        )
        assert len(got) == len(wanted) == 20  # every match, not a page of them
        assert [r["name"] for r in got] == sorted(r["name"] for r in got)
        by_id = {r["sourced_id"]: r for r in got}
        for issue in wanted:
            row = by_id[issue.sourced_id]
            assert (row["name"], row["student_id"], row["school"], row["grade"]) == (
                issue.subject_name,
                issue.subject_student_id,
                "Gamma HS",
                "03",
            )


class TestQueries:
    def test_a_page_reads_the_issues_in_a_few_queries_whatever_it_lists(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        """Counts, choices and the page are a handful of set-based reads, never one per issue,
        as many deep in the list as on its first page."""
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if "validation_issues" in statement:
                statements.append(statement)

        first = browser.get(ISSUES, params={"role": "student"}).text
        deeper = link(browser.get(link(first, "next")).text, "next")
        last = re.search(r'<a href="([^"]+)">Last</a>', first)
        assert last, first
        engine = world.service.engine
        reads = []
        event.listen(engine, "before_cursor_execute", seen)
        try:
            for url, params in (
                (ISSUES, {}),
                (ISSUES, {"sourced_id": "crowd-001"}),
                (deeper, {}),
                (html.unescape(last.group(1)), {}),
            ):
                statements.clear()
                page = browser.get(url, params=params or None).text
                reads.append((len(rows(page)), len(statements)))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert [min(listed, 2) for listed, _ in reads] == [2, 1, 2, 2], reads
        # The grouped count, its problems' fixes and the page; a search finds its issues' ids
        # and counts them; a page after another finds its start and counts what precedes it.
        assert [queries for _, queries in reads] == [3, 5, 5, 3], reads


class TestNothingRendersAsMarkup:
    def test_a_hostile_name_and_school_are_text_on_the_page_and_in_the_csv(
        self, browser: httpx.Client
    ) -> None:
        page = browser.get(ISSUES, params={"sourced_id": "script"}).text
        assert "<script>" not in page and "<b>Bold</b>" not in page
        assert str(escape(HOSTILE_NAME)) in page
        assert [r.name for r in rows(page)] == [HOSTILE_NAME]
        assert str(escape(HOSTILE_SCHOOL)) in page  # as a filter's choice, escaped
        (row,) = csv_rows(browser.get(f"{ISSUES}.csv", params={"school": HOSTILE_SCHOOL}))
        assert row["name"] == HOSTILE_NAME
        assert row["school"] == "'" + HOSTILE_SCHOOL and row["student_id"] == "'=1+1"
