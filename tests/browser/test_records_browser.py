"""A data manager finds a student from the header's search box and reads their page, in Debian's
chromium: search by name from any district page, open the person, follow their class and school,
and open a held student's page; axe-core finds no serious violation on any of those pages.

The world is the demo's (demo/showcase.py): Springfield synced with its planted bad records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from rostersync.demo.showcase import Showcase, demo_settings, start_showcase

SERIOUS = ("serious", "critical")
_axe = Axe()


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Showcase]:
    settings = demo_settings(tmp_path_factory.mktemp("records"), log_format="json")
    with start_showcase(settings, students=60, seed=7) as started:
        yield started


@pytest.fixture
def page(chromium: Any, showcase: Showcase) -> Iterator[Any]:
    """A fresh browser profile, signed in as the showcase's data manager."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    login = showcase.login("data_manager")
    tab.goto(f"{showcase.url}/staff/login")
    tab.get_by_label("Email", exact=True).fill(login.email)
    tab.get_by_label("Password", exact=True).fill(login.password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/admin/districts/springfield")
    yield tab
    context.close()


def serious(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    return [
        f"{v['id']} at {', '.join(map(str, node['target']))}: {v['help']}"
        for v in _axe.run(page).response["violations"]
        if v["impact"] in SERIOUS
        for node in v["nodes"]
    ]


def test_a_student_is_found_from_the_header_and_read_whole(page: Any, showcase: Showcase) -> None:
    data = showcase.sandbox.districts[0].data
    planted = {p.sourced_id for p in data.planted} | {s for p in data.planted for s in p.related}
    user = next(u for u in data.users if u["role"] == "student" and u["sourcedId"] not in planted)
    name = f"{user['givenName']} {user['familyName']}"
    found: dict[str, list[str]] = {}

    page.goto(f"{showcase.url}/admin/districts/springfield/issues")
    header = page.get_by_role("search", name=re.compile("^Search Springfield"))
    header.get_by_role("searchbox").fill(name)
    header.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=*")
    page.get_by_role("heading", name=re.compile("^Search Springfield"), level=1).wait_for()
    found["search"] = serious(page)

    page.get_by_role("link", name=name, exact=True).first.click()
    page.get_by_role("heading", name=re.compile(f"^{re.escape(name)}"), level=1).wait_for()
    assert user["identifier"] in page.locator("dl.facts").first.inner_text()
    found["person"] = serious(page)

    page.get_by_role("region", name="Classes").get_by_role("link").first.click()
    page.get_by_role("heading", name="Teachers and students", level=2).wait_for()
    assert page.get_by_role("link", name=name, exact=True).count() == 1
    found["class"] = serious(page)

    page.locator("dl.facts").get_by_role("link").first.click()
    page.get_by_role("heading", name="Classes", level=2).wait_for()
    found["school"] = serious(page)

    held = next(p for p in data.planted if p.problem == "missing_grade")
    held_user = next(u for u in data.users if u["sourcedId"] == held.sourced_id)
    page.goto(f"{showcase.url}/admin/districts/springfield/people/{held.sourced_id}")
    held_name = f"{held_user['givenName']} {held_user['familyName']}"
    page.get_by_role("heading", name=re.compile(f"^{re.escape(held_name)}"), level=1).wait_for()
    assert "Held:" in page.get_by_role("status").inner_text()
    found["held person"] = serious(page)

    problems = {where: p for where, p in found.items() if p}
    assert not problems, problems
