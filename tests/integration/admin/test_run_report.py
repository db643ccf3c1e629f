"""A run's page reads like a report: its counts as a matrix, its status in words and as a badge
of its own, how long it took, who decided it by name, and a link to the issues it found."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.integration.admin.conftest import AdminWorld, form_csrf, staff_sign_in

MATRIX_HEADINGS = (
    "Records",
    "Created",
    "Updated",
    "Matched",
    "Restored",
    "Deactivated",
    "Held",
    "Unchanged",
)
# A Python dict, list or tuple printed into a page, raw or HTML-escaped.
REPRS = ("{'", "[('", "{&#39;", "[(&#39;")


def sign_in(browser: httpx.Client, email: str) -> None:
    assert staff_sign_in(browser, email).status_code == 303


def preview(browser: httpx.Client) -> str:
    csrf = form_csrf(browser.get("/admin/districts/springfield").text)
    response = browser.post("/admin/districts/springfield/preview", data={"csrf": csrf})
    found = re.match(r"/admin/runs/([^?]+)\?done=previewed", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


def approve(browser: httpx.Client, run_id: str) -> str:
    page = browser.get(f"/admin/runs/{run_id}").text
    response = browser.post(f"/admin/runs/{run_id}/approve", data={"csrf": form_csrf(page)})
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[-1].split("?")[0]


def badge_class(page: str, element_id: str) -> str:
    found = re.search(
        r'<span class="badge status (status-[a-z-]+)"><span class="badge-icon" '
        rf'aria-hidden="true">.</span> <span id="{element_id}">',
        page,
    )
    assert found, page
    return found.group(1)


def assert_no_repr(page: str) -> None:
    for text in REPRS:
        assert text not in page, f"{text!r} in the page"


@pytest.fixture(scope="module")
def runs(world: AdminWorld) -> dict[str, str]:
    """A previewed Springfield run (its planted bad records are errors) approved by the vendor:
    the previewed run's id and the id of the run that applied it."""
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        sign_in(browser, world.vendor.email)
        previewed = preview(browser)
        return {"previewed": previewed, "applied": approve(browser, previewed)}


class TestTheRunPage:
    def test_a_preview_says_what_it_is_and_prints_no_python(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        sign_in(browser, world.vendor.email)
        run_id = preview(browser)
        page = browser.get(f"/admin/runs/{run_id}").text
        assert_no_repr(page)
        assert "This preview changed nothing." in page
        assert "the run is" not in page
        assert badge_class(page, "run-status") == "status-previewed"
        # Its errors are not on the issues page yet: the page says so, and what approving does.
        assert "not on the district's issues page" in page
        assert "approving it holds the records at fault back" in page

    def test_the_counts_are_a_matrix_of_kinds_and_outcomes(
        self, browser: httpx.Client, world: AdminWorld, runs: dict[str, str]
    ) -> None:
        sign_in(browser, world.vendor.email)
        page = browser.get(f"/admin/runs/{runs['applied']}").text
        assert_no_repr(page)
        table = page[page.index('<table id="run-counts">') :]
        table = table[: table.index("</table>")]
        head = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', table)
        assert tuple(head) == MATRIX_HEADINGS
        rows = re.findall(r'<th scope="row">([^<]+)</th>', table)
        assert "Students" in rows and "Classes" in rows and rows[-1] == "All records"
        counts = world.service.runs.get(runs["applied"]).counts
        created = sum(c["created"] for c in counts["entities"].values())
        assert f'<td class="number">{created:,}</td>' in table
        assert '<dt>Duration</dt><dd id="run-duration">' in page

    def test_a_succeeded_run_with_errors_says_so_and_links_its_issues(
        self, browser: httpx.Client, world: AdminWorld, runs: dict[str, str]
    ) -> None:
        sign_in(browser, world.vendor.email)
        run = world.service.runs.get(runs["applied"])
        errors = run.counts["issues"]["errors"]
        assert run.status == "succeeded" and errors > 0
        page = browser.get(f"/admin/runs/{run.id}").text
        assert badge_class(page, "run-status") == "status-succeeded-with-issues"
        assert '<span id="run-status">succeeded</span> with issues</span>' in page
        assert "This sync finished with issues" in page and f"found {errors:,} errors" in page
        link = re.search(r'<a href="([^"]+)" id="run-issues-link">', page)
        assert link and link.group(1) == "/admin/districts/springfield/issues"
        issues = browser.get(link.group(1))
        assert issues.status_code == 200 and "open issue" in issues.text
        assert '<a href="#issues">' in page and '<section class="card" id="issues">' in page

    def test_who_decided_is_named_for_the_decider_and_for_others(
        self, browser: httpx.Client, world: AdminWorld, runs: dict[str, str]
    ) -> None:
        sign_in(browser, world.vendor.email)
        page = browser.get(f"/admin/runs/{runs['previewed']}").text
        assert '<dd id="run-decided-by">Pat Staff</dd>' in page
        assert badge_class(page, "run-status") == "status-approved"
        assert f"staff:{world.vendor.id}" not in page

        browser.cookies.clear()
        sign_in(browser, world.dm_springfield.email)
        page = browser.get(f"/admin/runs/{runs['previewed']}").text
        assert '<dd id="run-decided-by">Pat Staff (vendor staff)</dd>' in page
        assert "staff:" not in page


class TestStatusBadges:
    def test_runs_and_districts_show_a_badge_of_their_own_status(
        self, browser: httpx.Client, world: AdminWorld, runs: dict[str, str]
    ) -> None:
        sign_in(browser, world.vendor.email)
        district = browser.get("/admin/districts/springfield").text
        assert_no_repr(district)
        shown = set(re.findall(r'class="badge status (status-[a-z-]+)"', district))
        assert {"status-live", "status-approved", "status-succeeded-with-issues"} <= shown
        listed = browser.get("/admin/districts").text
        assert "status-live" in listed


class TestTheAuditLog:
    def test_who_is_said_in_words_first_with_the_actor_id_second(
        self, browser: httpx.Client, world: AdminWorld, runs: dict[str, str]
    ) -> None:
        sign_in(browser, world.vendor.email)
        audit = browser.get("/admin/districts/springfield/audit").text
        assert (
            f'<td>Pat Staff <span class="hint"><code>staff:{world.vendor.id}</code></span></td>'
            in audit
        )
