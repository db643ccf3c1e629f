"""The people's home pages on a phone: Playwright with a 375 × 812 viewport in Debian's chromium.

A teacher launched from ClassLink's LaunchPad sees their classes with nothing scrolling sideways,
every button and class heading big enough to tap (44 px), confirms a whole class with one tap and
lands back at that class with a status message, and axe finds nothing serious on the way; a
student's home fits the phone too.

Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_accessibility import serious_violations
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox

PHONE = {"width": 375, "height": 812}
TAP = 44  # px: the smallest touch target (WCAG 2.5.5)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    settings = sandboxes.portal_settings(tmp_path_factory.mktemp("phone"))
    with Sandbox(settings, [sandboxes.springfield(60)]) as sandbox:
        yield sandbox


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A page in a fresh phone-sized profile (touch, no cookies from another test)."""
    context = chromium.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def overflow(page: Any) -> int:
    """How far the page is wider than the phone (0 when nothing scrolls sideways)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width - PHONE["width"]


# Every visible button and class heading whose box is under a fingertip, measured in the page in
# one round trip (a teacher's page has a button per student).
# Visible as Playwright means it: a non-empty box and not `visibility: hidden`.
_TOO_SMALL = """(tap) => [...document.querySelectorAll("main button, main summary, header button")]
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([el, box]) => box.width > 0 && box.height > 0
    && getComputedStyle(el).visibility !== "hidden")
  .filter(([, box]) => box.height < tap || box.width < tap)
  .map(([el, box]) =>
    `${JSON.stringify(el.innerText)}: ${Math.round(box.width)}×${Math.round(box.height)}`)
"""


def too_small(page: Any) -> list[str]:
    """Visible buttons and class headings smaller than a fingertip, each with its size."""
    found: list[str] = page.evaluate(_TOO_SMALL, TAP)
    return found


def teacher_of(world: Sandbox) -> Any:
    return next(p for p in world.sso.people("1001") if p.sourced_id.startswith("tch-"))


def test_a_teacher_confirms_a_whole_class_on_a_phone(phone: Any, world: Sandbox) -> None:
    teacher = teacher_of(world)
    phone.goto(world.sso.launch_url("educator-portal", "1001", teacher.sourced_id))
    phone.wait_for_url(f"{world.url}/")
    phone.get_by_role("heading", name=f"Hello, {teacher.display_name}").wait_for()
    assert overflow(phone) <= 0
    assert too_small(phone) == []
    assert serious_violations(phone) == []

    # Classes with students to confirm are open; pick the last of them, far down the page.
    open_classes = phone.locator("details.class-roster[open]")
    assert open_classes.count() >= 2
    section = open_classes.last
    section_id = section.get_attribute("id")
    assert section_id and section_id.startswith("class-")
    title = section.locator(".class-title").inner_text()
    button = section.get_by_role(
        "button", name=re.compile(r"^Confirm (all \d+ students|the 1 student) in .+ as eligible$")
    )
    name = button.inner_text()
    assert f" in {title} as eligible" in name
    count = int(re.search(r"\d+", name).group(0))  # type: ignore[union-attr]
    button.scroll_into_view_if_needed()
    phone.screenshot(path=str(SCREENSHOTS / "rostersync-educator-phone.png"), full_page=False)
    button.tap()

    phone.wait_for_url(re.compile(rf"#{re.escape(section_id)}$"))
    status = phone.locator(f"#{section_id} [role=status]")
    status.wait_for()
    words = "1 student" if count == 1 else f"{count} students"
    assert status.inner_text() == f"Confirmed {words} in {title} as eligible."
    # The page opened at the class, not at its top: the message is on screen.
    top = status.bounding_box()["y"]
    assert 0 <= top < PHONE["height"]
    assert phone.evaluate("window.scrollY") > 0
    done = phone.locator(f"#{section_id}")
    assert done.locator(".badge.eligible").count() >= count
    assert done.locator(".badge.unconfirmed").count() == 0
    assert done.get_by_role("button", name=re.compile("^Confirm (all|the 1)")).count() == 0
    assert "none to confirm" in done.locator("summary").inner_text()
    assert overflow(phone) <= 0
    assert too_small(phone) == []
    assert serious_violations(phone) == []
    phone.screenshot(path=str(SCREENSHOTS / "rostersync-educator-phone-done.png"))

    # The finished class is collapsed on the next visit, and opens with a tap on its heading.
    phone.goto(f"{world.url}/")
    closed = phone.locator(f"#{section_id}")
    assert closed.get_attribute("open") is None
    assert not closed.locator("table").is_visible()
    closed.locator("summary").tap()
    closed.locator("table").wait_for()
    assert overflow(phone) <= 0


def test_a_students_home_fits_a_phone(phone: Any, world: Sandbox) -> None:
    student = next(p for p in world.sso.people("1001") if p.role == "Student")
    phone.goto(world.sso.launch_url("educator-portal", "1001", student.sourced_id))
    phone.wait_for_url(f"{world.url}/")
    phone.get_by_role("heading", name=f"Hello, {student.display_name}").wait_for()
    assert phone.locator("ul.classes li").count() >= 1
    assert overflow(phone) <= 0
    assert too_small(phone) == []
    assert serious_violations(phone) == []
