"""`make screenshots`: the portal's main pages as PNGs in docs/screenshots/, for the README.

The pages are those of the world `rostersync demo --serve` shows (demo/showcase.py): Springfield
with its planted bad records open as issues and a held sync. Its data manager signs in and lands
on the district's page (its health: last successful sync, open errors, the runs chart), then finds
a held student by name; vendor staff see the issues, the held sync and a run's report; one of its
students signs in through the ClassLink simulator. Playwright drives Debian's chromium
(/usr/bin/chromium), as the browser tests do; each shot is the 1280-pixel-wide window, not the
whole page, so the files stay small. Run from the repository's root:

    .venv/bin/python -m tests.browser.screenshots [directory]
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from tests.browser.conftest import ARGS, CHROMIUM
from tests.browser.walks import name_of

from rostersync.demo.showcase import Showcase, demo_settings, start_showcase
from rostersync.logs import configure_logging

OUT = Path("docs/screenshots")
VIEWPORT = {"width": 1280, "height": 800}
# The showcase's size and seed, as `rostersync demo --serve` has them: the same names each time.
STUDENTS, SEED = 300, 7


def staff_pages(showcase: Showcase) -> list[tuple[str, str]]:
    """(file name, path) of each page shown as vendor staff; `#changes` scrolls to the list."""
    assert showcase.sandbox.service is not None
    first = showcase.sandbox.service.runs.recent("springfield", limit=5)[-1]
    held = f"/admin/runs/{showcase.held_run_id}"
    return [
        ("issues.png", "/admin/districts/springfield/issues"),
        ("held-run.png", held),
        ("held-run-review.png", f"{held}#changes"),
        ("run-report.png", f"/admin/runs/{first.id}"),
    ]


def sign_in(page: Any, showcase: Showcase, role: str, lands: str) -> None:
    """Sign in at /staff/login as the showcase's account with `role`; wait for where it lands."""
    login = showcase.login(role)
    page.goto(f"{showcase.url}/staff/login")
    page.get_by_label("Email", exact=True).fill(login.email)
    page.get_by_label("Password", exact=True).fill(login.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{showcase.url}{lands}")


def take(browser: Any, showcase: Showcase, out: Path) -> list[Path]:
    """Sign in as the data manager, as vendor staff and as a student; shoot each page into `out`."""
    shots: list[Path] = []

    def shot(page: Any, name: str) -> None:
        path = out / name
        page.screenshot(path=str(path), full_page=False, animations="disabled")
        shots.append(path)

    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{showcase.url}/login")
        page.get_by_label("Find your district").fill("spring")
        page.get_by_text("1 district listed.").wait_for()
        page.get_by_label("Your school or district").select_option(index=0)
        shot(page, "login.png")
        page.get_by_role("button", name="Continue with ClassLink").click()
        student = next(p for p in showcase.sandbox.sso.people("1001") if p.role == "Student")
        page.get_by_role("button", name=f"{student.display_name} — Student").click()
        page.wait_for_url(f"{showcase.url}/")
        page.get_by_role("heading", name="Your classes").wait_for()
        shot(page, "student-home.png")
    finally:
        context.close()

    # The data manager lands on the district's health, then finds a held student by name.
    district = showcase.sandbox.districts[0]
    held = next(p for p in district.data.planted if p.problem == "missing_grade")
    held_name = name_of(district.data, held.sourced_id)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        sign_in(page, showcase, "data_manager", "/admin/districts/springfield")
        page.get_by_role("heading", name="At a glance").wait_for()
        shot(page, "district.png")
        page.goto(f"{showcase.url}/admin/districts/springfield#runs-heading")
        page.get_by_role("img", name=re.compile("^The last ")).wait_for()
        shot(page, "district-runs.png")
        header = page.get_by_role("search", name=re.compile("^Search "))
        header.get_by_role("searchbox").fill(held_name)
        header.get_by_role("button", name="Search").click()
        page.wait_for_url("**/search?q=*")
        page.get_by_role("link", name=held_name, exact=True).first.click()
        page.get_by_role("heading", level=1, name=re.compile(f"^{re.escape(held_name)}")).wait_for()
        shot(page, "held-student.png")
    finally:
        context.close()

    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        sign_in(page, showcase, "vendor_staff", "/admin/districts")
        for name, path in staff_pages(showcase):
            page.goto(f"{showcase.url}{path}")
            page.get_by_role("heading", level=1).wait_for()
            shot(page, name)
    finally:
        context.close()
    return shots


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rostersync-screenshots-") as tmp:
        settings = demo_settings(Path(tmp) / "demo")
        configure_logging(settings)  # warnings only: the shots' paths are what is printed
        with (
            start_showcase(settings, students=STUDENTS, seed=SEED) as showcase,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                shots = take(browser, showcase, out)
            finally:
                browser.close()
    for path in shots:
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
