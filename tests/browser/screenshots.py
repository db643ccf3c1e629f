"""`make screenshots`: the portal's main pages as PNGs in docs/screenshots/, for the README.

The pages are those of the world `rostersync demo --serve` shows (demo/showcase.py): Springfield
with its planted bad records open as issues and a held sync, seen by vendor staff, and one of its
students signed in through the ClassLink simulator. Playwright drives Debian's chromium
(/usr/bin/chromium), as the browser tests do; each shot is the 1280-pixel-wide window, not the
whole page, so the files stay small. Run from the repository's root:

    .venv/bin/python -m tests.browser.screenshots [directory]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from tests.browser.conftest import ARGS, CHROMIUM

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
        ("district.png", "/admin/districts/springfield"),
        ("issues.png", "/admin/districts/springfield/issues"),
        ("held-run.png", held),
        ("held-run-review.png", f"{held}#changes"),
        ("run-report.png", f"/admin/runs/{first.id}"),
    ]


def take(browser: Any, showcase: Showcase, out: Path) -> list[Path]:
    """Sign in as vendor staff and as a student, and shoot each page into `out`."""
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

    vendor = showcase.login("vendor_staff")
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{showcase.url}/staff/login")
        page.get_by_label("Email", exact=True).fill(vendor.email)
        page.get_by_label("Password", exact=True).fill(vendor.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/admin/districts")
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
