"""`rostersync demo --serve` shows the product: a newcomer signs in as the printed data manager
and finds the planted bad records as open issues and a held sync to review, and the emails the
portal sent are in the printed outbox. The login page offers Springfield (ClassLink) and
Shelbyville (Clever): a printed Clever person signs in through the sandbox's Clever, and a
ClassLink one through its ClassLink, each landing on their home page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from rostersync.demo.showcase import Showcase, demo_settings, start_showcase
from rostersync.web.cookies import Cookies


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


def district_on_login_page(browser: httpx.Client, name: str) -> str:
    """Our id of the district listed on the login page under this name."""
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    options: dict[str, str] = {
        html.unescape(label): value
        for value, label in re.findall(r'<option value="([^"]+)">([^<]+)</option>', page.text)
    }
    assert name in options, options
    return options[name]


def choose(browser: httpx.Client, district_id: str) -> str:
    """Choose the district on the login page; where the portal sends the browser to sign in."""
    response = browser.get("/login/start", params={"district": district_id})
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


def land(showcase: Showcase, browser: httpx.Client, callback: str) -> tuple[Any, str]:
    """Deliver the provider's redirect to the portal and follow it to the home page; who the
    browser is signed in as, and the home page's text."""
    parts = urlsplit(callback)
    answer = browser.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 303, answer.text
    home = browser.get(answer.headers["location"])
    assert home.status_code == 200, home.text
    service = showcase.sandbox.service
    assert service is not None
    session = browser.cookies.get(Cookies.of(service.settings).session)
    return service.signin.viewer(session), html.unescape(home.text)


class TestSigningInToTheServedDemo:
    @pytest.mark.parametrize(("role", "kind"), [("student", "student"), ("teacher", "educator")])
    def test_a_printed_clever_person_signs_in_through_the_sandboxs_clever(
        self, showcase: Showcase, role: str, kind: str
    ) -> None:
        lines = showcase.welcome()
        login_page = printed(lines, r"login page \((\S+)\) choose Shelbyville SD")
        name = printed(lines, rf"^\s+(.+) \({role}\): &login_as=\S+$")
        login_as = printed(lines, rf"\({role}\): (&login_as=\S+)$")
        assert sum(f"({role}): &login_as=" in line for line in lines) == 3
        with httpx.Client(base_url=showcase.url, timeout=30) as browser:
            assert login_page == f"{showcase.url}/login"
            shelbyville = district_on_login_page(browser, "Shelbyville SD – Shelbyville, IL")
            clever = showcase.sandbox.clever
            assert clever is not None
            at_clever = choose(browser, shelbyville)
            assert at_clever.startswith(f"{clever.url}/oauth/authorize?")
            # As printed: the simulated Clever signs in whoever the address names.
            answer = browser.get(at_clever + login_as)
            assert answer.status_code == 302, answer.text
            callback = answer.headers["location"]
            assert callback.startswith(f"{showcase.url}/oauth/clever/callback?")
            viewer, home = land(showcase, browser, callback)
        assert viewer is not None and viewer.kind == kind
        assert viewer.district_id == showcase.sandbox.district_ids["shelbyville"]
        assert f"{viewer.person.given_name} {viewer.person.family_name}" == name
        assert viewer.person.given_name in home

    def test_a_classlink_student_still_signs_in_through_the_sandboxs_classlink(
        self, showcase: Showcase
    ) -> None:
        sso = showcase.sandbox.sso
        planted = {p.sourced_id for p in showcase.sandbox.districts[0].data.planted}
        student = next(
            p for p in sso.people("1001") if p.role == "Student" and p.sourced_id not in planted
        )
        with httpx.Client(base_url=showcase.url, timeout=30) as browser:
            springfield = district_on_login_page(browser, "Springfield USD – Springfield, IL")
            at_classlink = choose(browser, springfield)
            assert at_classlink.startswith(sso.url)
            query = {k: v[0] for k, v in parse_qs(urlsplit(at_classlink).query).items()}
            answer = browser.post(
                at_classlink.split("?")[0],
                data={**query, "person": f"1001:{student.sourced_id}"},
            )
            assert answer.status_code == 302, answer.text
            viewer, home = land(showcase, browser, answer.headers["location"])
        assert viewer is not None and viewer.kind == "student"
        assert viewer.district_id == showcase.sandbox.district_ids["springfield"]
        assert viewer.person.given_name == student.given_name
        assert student.given_name in home
