"""The admin pages drive the workflow: preview, approve, discard, open issues as CSV, audit."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import httpx
import pytest
from tests.integration.admin.conftest import AdminWorld, form_csrf, staff_sign_in

from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.notify.emails import run_link
from rostersync.store import workflow as store_workflow
from rostersync.store.districts import get_credentials


@pytest.fixture(autouse=True)
def vendor(browser: httpx.Client, world: AdminWorld) -> None:
    assert staff_sign_in(browser, world.vendor.email).status_code == 303


def preview(browser: httpx.Client, slug: str = "springfield") -> str:
    """Press "Preview sync" on the district page; returns the previewed run's id."""
    csrf = form_csrf(browser.get(f"/admin/districts/{slug}").text)
    response = browser.post(f"/admin/districts/{slug}/preview", data={"csrf": csrf})
    assert response.status_code == 303, response.text
    found = re.match(r"/admin/runs/([^?]+)\?done=previewed", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


class TestEmailLinks:
    def test_the_run_link_an_email_sends_opens_the_run_page(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        run_id = preview(browser)
        link = run_link(str(browser.base_url), run_id)
        page = browser.get(link)
        assert page.status_code == 200, link
        assert run_id in page.text


class TestRunDecisions:
    """A previewed run is approved or discarded from its page, with the staff member as actor."""

    def test_approving_a_preview_applies_it(self, browser: httpx.Client, world: AdminWorld) -> None:
        run_id = preview(browser)
        page = browser.get(f"/admin/runs/{run_id}")
        assert "previewed" in page.text and "Approve" in page.text
        response = browser.post(
            f"/admin/runs/{run_id}/approve", data={"csrf": form_csrf(page.text)}
        )
        assert response.status_code == 303
        applied = response.headers["location"].split("/")[-1].split("?")[0]
        assert world.service.runs.get(applied).status == "succeeded"
        assert world.service.runs.plan(run_id).decided_by == f"staff:{world.vendor.id}"

    def test_discarding_a_preview_changes_nothing(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        run_id = preview(browser)
        counts = world.service.districts.counts("springfield")
        page = browser.get(f"/admin/runs/{run_id}")
        response = browser.post(
            f"/admin/runs/{run_id}/discard", data={"csrf": form_csrf(page.text)}
        )
        assert response.status_code == 303
        assert world.service.runs.get(run_id).status == "discarded"
        assert world.service.districts.counts("springfield") == counts
        audit = browser.get("/admin/districts/springfield/audit").text
        (row,) = [r for r in re.findall(r"<tr>(.*?)</tr>", audit, re.S) if "<td>discard</td>" in r]
        assert f'<td>Pat Staff <span class="hint"><code>staff:{world.vendor.id}</code>' in row

    def test_a_decision_without_the_csrf_token_is_refused(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        run_id = preview(browser)
        assert browser.post(f"/admin/runs/{run_id}/approve", data={"csrf": "x"}).status_code == 403
        assert world.service.runs.get(run_id).status == "previewed"

    def test_a_decided_run_cannot_be_decided_again(self, browser: httpx.Client) -> None:
        run_id = preview(browser)
        csrf = form_csrf(browser.get(f"/admin/runs/{run_id}").text)
        browser.post(f"/admin/runs/{run_id}/discard", data={"csrf": csrf})
        again = browser.post(f"/admin/runs/{run_id}/approve", data={"csrf": csrf})
        assert again.status_code == 409 and "discarded" in again.text


class TestOpenIssues:
    """Open issues are filterable and download as a formula-safe CSV that matches them."""

    @pytest.fixture
    def hostile_issue(self, world: AdminWorld) -> str:
        """An open issue whose record id a spreadsheet would run as a formula."""
        sourced_id = '=HYPERLINK("http://evil.example","fix me")'
        district_id = world.sandbox.district_ids["springfield"]
        run_id = world.service.runs.recent("springfield", limit=1)[0].id
        with world.service.engine.begin() as conn:
            # As a delta run that found it: the district's other open issues stay open.
            store_workflow.reconcile_issues(
                conn,
                run_id=run_id,
                district_id=district_id,
                issues=[
                    ValidationIssue(
                        entity="student",
                        sourced_id=sourced_id,
                        field="email",
                        code="formula_test",
                        severity=Severity.ERROR,
                        message="-1+1 looks like a formula",
                        fix="@SUM(A1) too",
                    )
                ],
                now=datetime.now(UTC),
                scope={sourced_id},
            )
        return sourced_id

    def test_the_csv_matches_the_open_issues_and_runs_no_formula(
        self, browser: httpx.Client, world: AdminWorld, hostile_issue: str
    ) -> None:
        response = browser.get("/admin/districts/springfield/issues.csv")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.content.startswith(b"\xef\xbb\xbf")  # spreadsheets read it as UTF-8
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        header, body = rows[0], rows[1:]
        assert header[:2] == ["entity", "sourced_id"]
        open_issues = world.service.runs.open_issues("springfield")
        assert len(body) == len(open_issues) > 1
        assert not [cell for row in body for cell in row if cell[:1] in "=+-@\t\r"]
        assert ["student", "'" + hostile_issue] in [row[:2] for row in body]

    def test_the_filter_narrows_page_and_csv_alike(
        self, browser: httpx.Client, world: AdminWorld, hostile_issue: str
    ) -> None:
        params = {"code": "formula_test"}
        wanted = [
            i for i in world.service.runs.open_issues("springfield") if i.code == "formula_test"
        ]
        every = len(world.service.runs.open_issues("springfield"))
        assert 0 < len(wanted) < every
        page = browser.get("/admin/districts/springfield/issues", params=params)
        assert f"{len(wanted)} open issue" in page.text
        rows = list(csv.reader(io.StringIO(
            browser.get("/admin/districts/springfield/issues.csv", params=params).text
        )))  # fmt: skip
        assert len(rows) == len(wanted) + 1
        assert {row[3] for row in rows[1:]} == {"formula_test"}
        by_record = browser.get(
            "/admin/districts/springfield/issues", params={"sourced_id": "no-such-record"}
        )
        assert "0 open issues" in by_record.text

    def test_revalidate_runs_a_revalidation(self, browser: httpx.Client, world: AdminWorld) -> None:
        page = browser.get("/admin/districts/springfield/issues")
        response = browser.post(
            "/admin/districts/springfield/revalidate", data={"csrf": form_csrf(page.text)}
        )
        assert response.status_code == 303
        assert world.service.runs.recent("springfield", limit=1)[0].trigger == "revalidate"


class TestDistrictPages:
    """The district list and page show status, runs and answers, never credentials."""

    def test_the_district_page_never_shows_credentials(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        page = browser.get("/admin/districts/springfield").text
        api = browser.get("/api/v1/districts/springfield").text
        with world.service.engine.connect() as conn:
            key, secret = get_credentials(
                conn, world.service.box, world.sandbox.district_ids["springfield"]
            )
        assert "Preview sync" in page and "never shown" in page
        for text in (page, api):
            assert key not in text and secret not in text

    def test_the_list_shows_status_last_sync_and_open_issues(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        listed = {d["slug"]: d for d in browser.get("/api/v1/districts").json()}
        springfield = listed["springfield"]
        assert springfield["status"] == "live" and springfield["last_run_at"]
        assert springfield["open_issues"] == len(world.service.runs.open_issues("springfield"))
        assert "live" in browser.get("/admin/districts").text
