"""Issue #16's walks, in Debian's chromium, with axe-core on every page they pass through.

A data manager signs in and lands on their district's page, which opens with its health (last
successful sync, open errors, the runs chart); they find
a held student from the header's search box, reads on the student's page why they are held and
how to fix it; the district fixes the record in its SIS (the ClassLink simulator's data), the
data manager presses Revalidate on the issues page, and the student's page then shows them
provisioned with no open issue.

Vendor staff then meet a sync the deactivation safeguard held (the district stopped sending
LEAVERS students): from the district's page they Sync now, land on the held run, search its
affected students, open one, and Approve with the confirmation.

Both walks share one world; each works from what the simulator serves at the time, so either
may run first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.browser.test_accessibility import Audit, staff_sign_in
from tests.browser.walks import fix_in_source, name_of, wait_for_run
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator.mutations import vanish

MANAGER, VENDOR = "dana@springfield.example", "vendor@portal.example"
PASSWORD = "correct horse battery staple"
SPRINGFIELD = "Springfield USD – Springfield, IL"
LEAVERS = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Springfield (150 students, its planted bad records) synced and live; a data manager of
    it and vendor staff with passwords."""
    settings = sandboxes.portal_settings(tmp_path_factory.mktemp("walks"))
    with Sandbox(settings, [sandboxes.springfield(150, bad_records=True)]) as sandbox:
        sandboxes.add_staff(
            sandbox, MANAGER, "data_manager", password=PASSWORD, district="springfield",
            display_name="Dana Manager",
        )  # fmt: skip
        sandboxes.add_staff(
            sandbox, VENDOR, "vendor_staff", password=PASSWORD, display_name="Vera Vendor"
        )
        yield sandbox


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile: no cookies from the other walk."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


def test_a_data_manager_finds_a_held_student_and_sees_the_fix_close_the_issue(
    context: Any, world: Sandbox
) -> None:
    tenant = world.roster.tenant("springfield")
    held = next(p for p in tenant.data.planted if p.problem == "missing_grade")
    name = name_of(tenant.data, held.sourced_id)
    page = context.new_page()
    audit = Audit(page, world.url)

    # Signed in, a data manager lands on their district's page, health first: no list first.
    staff_sign_in(page, world.url, MANAGER, PASSWORD)
    page.wait_for_url(f"{world.url}/admin/districts/springfield")
    audit.check("district, landed on", SPRINGFIELD)
    health = page.get_by_role("heading", name="At a glance", level=2)
    last = page.locator("#last-success")
    assert health.is_visible() and last.is_visible()
    when = r"(just now|\d+ \w+ ago)\s+\(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)"
    assert re.fullmatch(when, last.inner_text().strip()), last.inner_text()
    errors = page.locator("#open-errors")
    assert errors.is_visible()
    assert re.fullmatch(r"[1-9]\d* errors?", errors.inner_text()), errors.inner_text()
    chart = page.get_by_role("img", name=re.compile(r"^The last \d+ runs?: how long each took"))
    assert chart.is_visible()
    assert page.locator("#runs-table tbody tr").count() >= 1

    header = page.get_by_role("search", name=f"Search {SPRINGFIELD}")
    header.get_by_role("searchbox").fill(name)
    header.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=*")
    audit.check("search", f"Search {SPRINGFIELD}")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    assert "Held: not in the portal" in row.inner_text()
    row.get_by_role("link", name=name, exact=True).click()

    heading = re.compile(f"^{re.escape(name)}")
    audit.check("held student", heading)
    assert "Held:" in page.get_by_role("status").inner_text()
    issues = page.get_by_role("region", name="Open issues")
    problem = issues.get_by_role("row").filter(has_text="missing_grade")
    assert problem.count() == 1
    field, why, fix = problem.get_by_role("cell").all_inner_texts()
    assert field == "grades" and "grade" in why.lower(), (field, why)
    assert "grade" in fix.lower(), fix  # what the district does about it, in words

    # The district fixes the grade in its SIS; ClassLink serves the record fixed.
    tenant.data = fix_in_source(tenant.data, [held])

    page.get_by_role("link", name=SPRINGFIELD).first.click()
    page.wait_for_url("**/admin/districts/springfield")
    page.get_by_role("link", name="Open issues").click()
    audit.check("issues", f"Open issues · {SPRINGFIELD}")
    listed = page.locator("#issues tbody tr").filter(has_text=held.sourced_id)
    assert listed.count() == 1
    page.get_by_role("button", name="Revalidate").click()
    page.wait_for_url("**/issues?done=revalidated")
    audit.check("issues, revalidated", f"Open issues · {SPRINGFIELD}")
    assert "Revalidated" in page.get_by_role("status").first.inner_text()
    assert page.locator("#issues tbody tr").filter(has_text=held.sourced_id).count() == 0

    page.goto(f"{world.url}/admin/districts/springfield/search")
    page.locator("#q").fill(name)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=*")
    audit.check("search, after the fix", f"Search {SPRINGFIELD}")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    assert "Held" not in row.inner_text()
    row.get_by_role("link", name=name, exact=True).click()
    audit.check("student, provisioned", heading)
    assert page.get_by_role("status").count() == 0  # no "Held:" note
    facts = page.locator("dl.facts").first.inner_text()
    assert "Active" in facts and "Kept in step with ClassLink" in facts
    region = page.get_by_role("region", name="Open issues")
    assert region.get_by_text("No open issues.").is_visible()
    assert world.service is not None
    assert held.sourced_id not in {
        i.sourced_id for i in world.service.runs.open_issues("springfield")
    }
    audit.done()


def test_vendor_staff_review_a_held_runs_students_and_approve_it(
    context: Any, world: Sandbox
) -> None:
    tenant = world.roster.tenant("springfield")
    planted = {p.sourced_id for p in tenant.data.planted}
    planted |= {s for p in tenant.data.planted for s in p.related}
    leavers = [
        u for u in tenant.data.users if u["role"] == "student" and u["sourcedId"] not in planted
    ][:LEAVERS]
    # The district stops sending LEAVERS students: the next sync would deactivate them all.
    tenant.data = vanish(tenant.data, "users", [u["sourcedId"] for u in leavers]).data
    page = context.new_page()
    audit = Audit(page, world.url)

    # Vendor staff, who look after every district, land on the districts list.
    staff_sign_in(page, world.url, VENDOR, PASSWORD)
    page.wait_for_url(f"{world.url}/admin/districts")
    audit.check("districts, vendor", "Districts")
    page.get_by_role("link", name=SPRINGFIELD).click()
    page.wait_for_url("**/admin/districts/springfield")
    audit.check("district, vendor", SPRINGFIELD)
    page.get_by_role("button", name="Sync now").click()
    page.wait_for_url("**/admin/runs/*")
    assert wait_for_run(page) == "held"
    audit.check("held run", f"Run of {SPRINGFIELD}")
    assert "would be deactivated" in page.locator("#run-held-reason").inner_text()
    run_url = page.url.split("?")[0]

    someone = leavers[7]
    someone_name = f"{someone['givenName']} {someone['familyName']}"
    page.get_by_label("Name, student ID or ClassLink id").fill(someone["familyName"])
    page.get_by_label("Change", exact=True).select_option("deactivate")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**q=**")
    audit.check("held run, filtered", f"Run of {SPRINGFIELD}")
    names = page.locator("#changes-table tbody th").all_inner_texts()
    assert someone_name in names, names
    page.locator("#changes-table").get_by_role("link", name=someone_name, exact=True).click()
    audit.check("affected student", re.compile(f"^{re.escape(someone_name)}"))
    assert "Active" in page.locator("dl.facts").first.inner_text()  # not deactivated yet

    page.goto(run_url)
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/approve*")
    audit.check("confirm approval", re.compile("^Approve the held sync of "))
    counts = page.locator("#confirm-counts").inner_text()
    assert f"deactivate {LEAVERS} students" in counts, counts
    page.get_by_role("button", name=re.compile(r"^Approve: deactivate")).click()
    page.wait_for_url("**/admin/runs/*?done=approved")
    audit.check("approved run", f"Run of {SPRINGFIELD}")
    assert page.locator("#run-status").inner_text() == "succeeded"
    assert world.service is not None
    counts_now = world.service.districts.counts("springfield")["students"]
    assert counts_now["inactive"] >= LEAVERS
    audit.done()
