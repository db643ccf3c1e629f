"""`rostersync demo --serve` shows the product: a newcomer signs in as the printed data manager
and finds the planted bad records as open issues and a held sync to review, and the emails the
portal sent are in the printed outbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rostersync.demo.showcase import Showcase, demo_settings, start_showcase


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Showcase]:
    data_dir: Path = tmp_path_factory.mktemp("demo-web")
    with start_showcase(
        demo_settings(data_dir, log_format="json"), students=300, seed=7, port=0
    ) as started:
        yield started


def printed(lines: list[str], pattern: str) -> str:
    """The first group of `pattern` in the lines printed on start."""
    for line in lines:
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    raise AssertionError(f"{pattern!r} not printed:\n" + "\n".join(lines))


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


@pytest.fixture(scope="module")
def data_manager(showcase: Showcase) -> Iterator[httpx.Client]:
    """A browser signed in with the data manager's printed email and demo-only password."""
    lines = showcase.welcome()
    login_url = printed(lines, r"Admin pages: (\S+)")
    email = printed(lines, r"^\s+email:\s+(\S+)")
    password = printed(lines, r"^\s+password:\s+(\S+)")
    assert any("demo-only password" in line for line in lines)
    with httpx.Client(base_url=showcase.url, timeout=30) as browser:
        csrf = form_csrf(browser.get(login_url).text)
        response = browser.post(
            "/staff/login",
            data={"email": email, "password": password, "csrf": csrf, "next": "/admin"},
        )
        assert response.status_code == 303, response.text
        yield browser


class TestTheServedDemo:
    def test_the_data_manager_finds_the_planted_bad_records_as_open_issues(
        self, showcase: Showcase, data_manager: httpx.Client
    ) -> None:
        issues_url = printed(showcase.welcome(), r"Open issues \(planted bad records\): (\S+)")
        page = data_manager.get(issues_url)
        assert page.status_code == 200, page.text
        district = showcase.sandbox.districts[0]
        assert district.data.planted
        for problem in district.data.planted:
            assert problem.sourced_id in page.text, problem

    def test_the_data_manager_finds_the_held_sync_and_can_decide_it(
        self, showcase: Showcase, data_manager: httpx.Client
    ) -> None:
        district_page = data_manager.get("/admin/districts/springfield").text
        assert f'href="/admin/runs/{showcase.held_run_id}"' in district_page
        run_url = printed(showcase.welcome(), r"Held sync to review .*: (\S+)")
        page = data_manager.get(run_url)
        assert page.status_code == 200, page.text
        assert 'id="run-status">held<' in page.text
        assert "students: " in page.text and "deactivations" in page.text
        assert f'action="/admin/runs/{showcase.held_run_id}/approve"' in page.text
        assert f'action="/admin/runs/{showcase.held_run_id}/discard"' in page.text

    def test_the_summary_and_the_held_emails_are_in_the_printed_outbox(
        self, showcase: Showcase
    ) -> None:
        outbox = Path(printed(showcase.welcome(), r"Emails the portal sent .*: (\S+)"))
        messages = [p.read_text() for p in sorted(outbox.glob("*.eml"))]
        assert len(messages) == 2
        assert all("To: data.manager@springfield.example" in m for m in messages)
        assert any(showcase.held_run_id in m for m in messages)
