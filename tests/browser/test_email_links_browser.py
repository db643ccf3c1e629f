"""Every link of every email opens, in a real browser, the page it promises to its recipient.

Springfield's data manager gets the summary, stale, failed, held and quarantined emails of real
runs (Playwright driving Debian's chromium); signed in, they open each link and land on the
intended page with status 200: not the sign-in page, not a 404. The invited data manager opens
their invitation link before having an account. Without /usr/bin/chromium these tests skip with
the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update
from tests.browser.conftest import SCREENSHOTS
from tests.integration import sandboxes
from tests.integration.workflow.conftest import without_users

from rostersync.demo.sandbox import Sandbox
from rostersync.notify.notifier import Notifier
from rostersync.notify.senders import MemorySender
from rostersync.store import runs as store_runs
from rostersync.store.tables import integrations

DATA_MANAGER = "dana@springfield.example"
VENDOR = "alerts@vendor.example"
INVITED = "new.manager@springfield.example"
PASSWORD = "correct horse battery staple"
DISTRICT = "Springfield USD – Springfield, IL"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    settings = sandboxes.portal_settings(
        tmp_path_factory.mktemp("email-links"), vendor_alert_emails=VENDOR
    )
    with Sandbox(settings, [sandboxes.springfield(30, bad_records=True)]) as sandbox:
        sandboxes.add_staff(
            sandbox,
            DATA_MANAGER,
            "data_manager",
            password=PASSWORD,
            district="springfield",
            display_name="Dana Manager",
        )
        assert sandbox.service is not None
        with sandbox.service.engine.begin() as conn:
            conn.execute(
                update(integrations)
                .where(integrations.c.district_id == sandbox.district_ids["springfield"])
                .values(data_manager_emails=[DATA_MANAGER])
            )
        yield sandbox


@pytest.fixture(scope="module")
def inbox(world: Sandbox) -> dict[str, EmailMessage]:
    """One email of each template, about Springfield's real runs, by template name."""
    service = world.service
    assert service is not None
    district_id = world.district_ids["springfield"]
    sender = MemorySender()
    notifier = Notifier(service.engine, service.settings, sender)
    with service.engine.connect() as conn:
        (first,) = store_runs.list_runs(conn, district_id)
    now = datetime.now(UTC)
    sent = notifier.after_run(first.id, newest_source_change=now - timedelta(days=400), now=now)
    assert sent == ["summary", "stale"]

    tenant = world.roster.tenant("springfield")
    secret, tenant.secret = tenant.secret, "not-the-secret"
    failed = service.runs.sync("springfield")
    tenant.secret = secret
    assert failed.status == "failed"
    assert notifier.after_run(failed.run_id, attempts=3) == ["failed"]
    assert notifier.district_quarantined(
        district_id, failures=5, reason="the source refused the key", schedule="daily at 05:00",
        run_id=failed.run_id,
    ) == ["quarantined"]  # fmt: skip

    data = tenant.data
    students = [u["sourcedId"] for u in data.users if u["role"] == "student"]
    tenant.data = without_users(data, set(students[: len(students) // 2]))
    held = service.runs.sync("springfield")
    assert held.status == "held"
    assert notifier.after_run(held.run_id) == ["held"]

    service.staff.invite(district="springfield", email=INVITED, actor="vendor", sender=sender)
    names = ["summary", "stale", "failed", "quarantined", "held", "staff_invitation"]
    assert len(sender.messages) == len(names)
    return dict(zip(names, sender.messages, strict=True))


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if tag == "a" and name == "href"]


def links(message: EmailMessage) -> list[str]:
    """Every link of the message: each address of the text part, each href of the HTML part."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    parser = _Hrefs()
    parser.feed(html.get_content())
    found = re.findall(r"https?://\S+", text.get_content()) + parser.hrefs
    assert found, f"{message['Subject']!r} has no link"
    return list(dict.fromkeys(found))


def signed_in(chromium: Any, world: Sandbox, email: str) -> Any:
    page = chromium.new_context().new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{world.url}/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{world.url}/admin/districts/springfield")  # a data manager's landing
    return page


def assert_intended_page(page: Any, world: Sandbox, link: str) -> None:
    """The link answered 200 with the page its path names, as its recipient sees it."""
    assert link.startswith(f"{world.url}/"), f"not absolute from the portal's base URL: {link}"
    response = page.goto(link)
    assert response is not None and response.status == 200, (link, response and response.status)
    assert urlsplit(page.url).path == urlsplit(link).path, f"{link} went to {page.url}"
    heading = page.get_by_role("heading", level=1)
    path, query = urlsplit(link).path, parse_qs(urlsplit(link).query)
    if found := re.fullmatch(r"/admin/runs/([^/]+)", path):
        assert found.group(1) in page.title(), link
        assert heading.inner_text().startswith(f"Run of {DISTRICT}"), link
    elif path == "/admin/districts/springfield":
        assert heading.inner_text() == DISTRICT, link
    elif path == "/admin/districts/springfield/issues":
        assert heading.inner_text() == f"Open issues · {DISTRICT}", link
        shown = page.locator("tbody tr")
        assert shown.count() > 0, f"{link} lists no issue"
        for sourced_id in query.get("sourced_id", []):
            assert page.locator("tbody code", has_text=sourced_id).count() == shown.count(), link
    elif re.fullmatch(r"/staff/invitation/[^/]+", path):
        assert heading.inner_text() == "Set up your data manager account", link
    else:
        raise AssertionError(f"an email links to a page no test knows: {link}")


@pytest.mark.parametrize("name", ["summary", "stale", "failed", "quarantined", "held"])
def test_every_link_of_a_run_email_opens_its_page_for_the_data_manager(
    chromium: Any, world: Sandbox, inbox: dict[str, EmailMessage], name: str
) -> None:
    message = inbox[name]
    assert DATA_MANAGER in message["To"]
    page = signed_in(chromium, world, DATA_MANAGER)
    try:
        for link in links(message):
            assert_intended_page(page, world, link)
        page.screenshot(path=str(SCREENSHOTS / f"rostersync-email-{name}.png"), full_page=True)
    finally:
        page.context.close()


def test_the_held_email_opens_the_run_with_approve_and_discard(
    chromium: Any, world: Sandbox, inbox: dict[str, EmailMessage]
) -> None:
    message = inbox["held"]
    body = message.get_body(("plain",))
    assert body is not None and "rostersync approve" not in body.get_content()
    # The run itself, and its full list of the records it would deactivate: one run.
    run_links = [link for link in links(message) if "/admin/runs/" in link]
    assert len({urlsplit(link).path for link in run_links}) == 1, run_links
    (run_link,) = [link for link in run_links if not urlsplit(link).query]
    assert any("action=deactivate" in link for link in run_links), run_links
    page = signed_in(chromium, world, DATA_MANAGER)
    try:
        assert_intended_page(page, world, run_link)
        assert page.get_by_role("button", name="Approve").is_visible()
        assert page.get_by_role("button", name="Discard").is_visible()
    finally:
        page.context.close()


def test_the_invitation_link_opens_the_set_up_page_before_any_sign_in(
    chromium: Any, world: Sandbox, inbox: dict[str, EmailMessage]
) -> None:
    message = inbox["staff_invitation"]
    assert message["To"] == INVITED
    page = chromium.new_context().new_page()
    page.set_default_timeout(10_000)
    try:
        for link in links(message):
            assert_intended_page(page, world, link)
    finally:
        page.context.close()
