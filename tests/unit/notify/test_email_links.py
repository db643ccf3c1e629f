"""Every link of every run email is absolute, from the portal's base URL, to a page of the
district's; the held email sends its data manager to the run's page, never to a command."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.unit.notify.test_emails import District, Run, issue

from rostersync.notify import emails

BASE = "https://portal.example/rostersync/"
RUN = Run(
    status="held",
    counts={"entities": {"student": {"created": 1, "deactivated": 40}}, "skipped": {}},
)
NOW = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
TO = ["dm@springfield.example"]
# The pages a run email may link to, as paths under the base URL.
PAGES = (
    re.compile(r"/admin/runs/[^/?#]+"),
    re.compile(r"/admin/districts/springfield"),
    re.compile(r"/admin/districts/springfield/issues"),
)

BUILDERS: dict[str, Callable[[], emails.Email]] = {
    "summary": lambda: emails.summary_email(
        district=District(),
        run=RUN,
        open_issues=[
            issue("stu 1&2"),
            issue("stu-2"),
            issue("cls-1", "missing_title", entity="class", severity="warning"),
        ],
        portal_base_url=BASE,
        to=TO,
    ),
    "held": lambda: emails.held_email(
        district=District(),
        run=RUN,
        held_reason="40 deactivations is 65%",
        portal_base_url=BASE,
        to=TO,
    ),
    "failed": lambda: emails.failed_email(
        district=District(), run=RUN, attempts=3, portal_base_url=BASE, to=TO
    ),
    "stale": lambda: emails.stale_email(
        district=District(),
        run=RUN,
        newest_change=NOW - timedelta(days=40),
        stale_after_days=30,
        now=NOW,
        portal_base_url=BASE,
        to=TO,
    ),
    "quarantined": lambda: emails.quarantined_email(
        district=District(),
        run=RUN,
        failures=5,
        reason="the source timed out",
        schedule="daily at 05:00",
        portal_base_url=BASE,
        to=TO,
    ),
}


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if tag == "a" and name == "href"]


def links(email: emails.Email) -> tuple[list[str], list[str]]:
    """The links of the text part (every http(s) address) and of the HTML part (every href)."""
    parser = _Hrefs()
    parser.feed(email.html)
    return re.findall(r"https?://\S+", email.text), parser.hrefs


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_link_is_absolute_to_a_page_of_the_district(name: str) -> None:
    text, html = links(BUILDERS[name]())
    assert text and html, "each email links to the portal in both parts"
    assert {urlsplit(link).path for link in text} == {urlsplit(link).path for link in html}
    for link in text + html:
        assert link.startswith(BASE), link
        path = "/" + urlsplit(link).path.removeprefix(urlsplit(BASE).path)
        assert any(page.fullmatch(path) for page in PAGES), link


def test_the_summary_links_each_problem_and_each_record_to_its_issues() -> None:
    email = BUILDERS["summary"]()
    _, html = links(email)
    queries = [parse_qs(urlsplit(link).query) for link in html]
    assert {"code": ["missing_grade"]} in queries and {"code": ["missing_title"]} in queries
    assert {"sourced_id": ["stu 1&2"]} in queries
    assert f"{BASE}admin/districts/springfield/issues\n" in email.text


def test_the_held_email_sends_the_data_manager_to_the_run_page_not_to_a_command() -> None:
    email = BUILDERS["held"]()
    run_page = f"{BASE}admin/runs/{RUN.id}"
    for part in (email.text, email.html):
        assert run_page in part
        assert "rostersync approve" not in part and "rostersync discard" not in part
        assert "Approve" in part and "Discard" in part
