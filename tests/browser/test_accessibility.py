"""Every main page of the portal, checked by axe-core in a real browser.

The world is the one `rostersync demo --serve` shows (demo/showcase.py): Springfield synced with
its planted bad records, a held run to review, Capital City served by ClassLink but not onboarded,
a data manager and vendor staff with passwords. Each page is opened the way a person would reach
it, checked to be the page meant (its heading), then axe-core runs on it; a violation of impact
serious or critical fails the test, each listed with its rule, element and help. Pages are also
checked in the states people meet: a form with its errors, a filter applied, an import refused.

Without /usr/bin/chromium these tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from rostersync.demo.showcase import Showcase, demo_settings, start_showcase
from rostersync.staff.totp import totp_code

SERIOUS = ("serious", "critical")
# Few enough that a throwaway email meets the 429 page in a handful of tries.
TRIES_PER_ACCOUNT = 3
NEW_MANAGER = "new.manager@springfield.example"
SPRINGFIELD = "Springfield USD – Springfield, IL"
RUN = f"Run of {SPRINGFIELD}"
AUDIT = f"Audit log · {SPRINGFIELD}"
ISSUES = f"Open issues · {SPRINGFIELD}"
# Where each role lands after signing in: vendor staff on the list, a data manager on its district.
LANDS = {"vendor_staff": "**/admin/districts", "data_manager": "**/admin/districts/springfield"}
STEPS = {
    "answers": "Questionnaire",
    "source": "Where the roster comes from",
    "schedule": "Sync schedule",
    "preview": "Preview and approve the first sync",
    "go-live": "Go live",
}
_axe = Axe()


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Showcase]:
    settings = demo_settings(tmp_path_factory.mktemp("a11y"), log_format="json")
    settings = settings.model_copy(
        update={"rate_limit_per_account": f"{TRIES_PER_ACCOUNT} per 1 hour"}
    )
    with start_showcase(settings, students=60, seed=7) as started:
        yield started


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile at the screenshots' width: no cookies from another test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line a node."""
    results = _axe.run(page)
    return [
        f"{v['id']} ({v['impact']}) at {', '.join(map(str, node['target']))}: {v['help']} "
        f"[{v['helpUrl']}]"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
        for node in v["nodes"]
    ]


class Audit:
    """The pages one test checks, and what axe found on each; `done` asserts none was found."""

    def __init__(self, page: Any, url: str) -> None:
        self.page, self.url = page, url
        self.found: dict[str, list[str]] = {}

    def check(self, name: str, heading: str | re.Pattern[str]) -> None:
        """Check the page the browser shows now, first making sure it is the one meant."""
        self.page.get_by_role("heading", name=heading, level=1).wait_for()
        problems = serious_violations(self.page)
        if problems:
            self.found[f"{name} ({self.page.url.removeprefix(self.url)})"] = problems

    def visit(
        self, path: str, name: str, heading: str | re.Pattern[str], status: int = 200
    ) -> None:
        """Open `path`, expect its status, and check it."""
        response = self.page.goto(f"{self.url}{path}")
        assert response is not None and response.status == status, (path, response)
        self.check(name, heading)

    def done(self) -> None:
        report = "\n".join(
            f"{page}:\n  " + "\n  ".join(problems) for page, problems in self.found.items()
        )
        assert not self.found, f"axe found serious or critical violations:\n{report}"


def staff_sign_in(page: Any, url: str, email_address: str, password: str) -> None:
    page.goto(f"{url}/staff/login")
    page.get_by_label("Email", exact=True).fill(email_address)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(context: Any, showcase: Showcase, role: str) -> Audit:
    """A page of `context` signed in as the showcase's account with this role, to audit."""
    login = showcase.login(role)
    page = context.new_page()
    staff_sign_in(page, showcase.url, login.email, login.password)
    page.wait_for_url(LANDS[role])
    return Audit(page, showcase.url)


def emailed_link(showcase: Showcase, to: str, pattern: str) -> str:
    for path in showcase.outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == to:
            part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            found = re.search(pattern, part.get_payload(decode=True).decode())
            assert found, pattern
            return found.group(1)
    raise AssertionError(f"no email to {to}")


def test_axe_reports_a_serious_violation_with_its_rule_and_element(
    context: Any, showcase: Showcase
) -> None:
    """The check can fail: a field without a label, added to the login page, is reported."""
    page = context.new_page()
    page.goto(f"{showcase.url}/login")
    assert serious_violations(page) == []
    page.evaluate(
        "() => { const i = document.createElement('input'); i.id = 'unlabelled';"
        " document.querySelector('main form').append(i); }"
    )
    problems = serious_violations(page)
    assert any(p.startswith("label (critical) at #unlabelled: ") for p in problems), problems


def test_the_sign_in_pages_and_refusals_have_no_serious_violations(
    context: Any, showcase: Showcase
) -> None:
    page = context.new_page()
    audit = Audit(page, showcase.url)
    audit.visit("/login", "login", "Log in through your school or district")
    # From the keyboard: the first Tab shows the skip link on screen, Enter skips to the form.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("link => link === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, box
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.get_by_label("Find your district").evaluate("f => f === document.activeElement")
    page.get_by_label("Find your district").fill("spring")
    assert page.get_by_label("Your school or district").locator("option").count() == 1
    audit.check("login, filtered", "Log in through your school or district")
    audit.visit("/login?q=nowhere", "login, no district found", re.compile("^Log in"))
    audit.visit(
        "/oauth/callback?error=access_denied", "refusal", "We couldn't sign you in", status=403
    )
    audit.visit(
        "/login?q=" + "x" * 101, "refusal, invalid link", "This link could not be used", status=400
    )

    audit.visit("/staff/login", "staff login", "Staff sign-in")
    staff_sign_in(page, showcase.url, "nobody@springfield.example", "not the password")
    page.locator("[role=alert]").first.wait_for()
    audit.check("staff login, refused", "Staff sign-in")
    for _ in range(TRIES_PER_ACCOUNT):
        staff_sign_in(page, showcase.url, "nobody@springfield.example", "not the password")
        page.locator("[role=alert]").first.wait_for()
    audit.check("too many tries", "Too many tries")
    audit.done()


def test_a_data_managers_pages_have_no_serious_violations(context: Any, showcase: Showcase) -> None:
    manager = showcase.login("data_manager")
    audit = signed_in(context, showcase, "data_manager")
    page = audit.page
    audit.check("district, data manager's landing", SPRINGFIELD)
    audit.visit("/admin/districts", "districts, data manager", "Districts")
    audit.visit("/admin/districts/springfield/issues", "issues, data manager", ISSUES)
    audit.visit(f"/admin/runs/{showcase.held_run_id}", "held run, data manager", RUN)
    audit.visit("/admin/districts/springfield/audit", "audit, data manager", AUDIT)

    # Two-step sign-in: set up, on, then the code asked at the next sign-in (wrong, then right).
    audit.visit("/staff/totp", "two-step sign-in, set-up", "Two-step sign-in")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(totp_code(secret, time.time()))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.locator("#totp-status").wait_for()
    audit.check("two-step sign-in, on", "Two-step sign-in")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/staff/login")
    staff_sign_in(page, showcase.url, manager.email, manager.password)
    page.wait_for_url("**/staff/login/code")
    audit.check("sign-in code", "Sign-in code")
    right = totp_code(secret, time.time() + 30)
    page.get_by_label("Code", exact=True).fill(f"{(int(right) + 500_000) % 1_000_000:06d}")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#code-error").wait_for()
    audit.check("sign-in code, wrong", "Sign-in code")
    page.get_by_label("Code", exact=True).fill(right)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(LANDS["data_manager"])
    audit.done()


def test_vendor_staffs_district_and_run_pages_have_no_serious_violations(
    context: Any, showcase: Showcase
) -> None:
    audit = signed_in(context, showcase, "vendor_staff")
    page = audit.page
    audit.check("districts", "Districts")
    audit.visit("/admin/districts/springfield", "district", SPRINGFIELD)
    audit.visit("/admin/districts/springfield/issues", "issues", ISSUES)
    planted = showcase.sandbox.districts[0].data.planted[0]
    audit.visit(
        f"/admin/districts/springfield/issues?q={planted.sourced_id}", "issues, filtered", ISSUES
    )
    assert planted.sourced_id in page.content()
    audit.visit("/admin/districts/springfield/audit", "audit", AUDIT)
    assert showcase.sandbox.service is not None
    runs = showcase.sandbox.service.runs.recent("springfield", limit=5)
    succeeded = next(r for r in runs if r.status == "succeeded")
    audit.visit(f"/admin/runs/{succeeded.id}", "succeeded run", RUN)
    audit.visit(
        f"/admin/runs/{succeeded.id}/issues?which=opened", "its issues", "Issues this run opened"
    )
    audit.visit(f"/admin/districts/springfield/audit?run={succeeded.id}", "its changes", AUDIT)
    held = f"/admin/runs/{showcase.held_run_id}"
    audit.visit(held, "held run", RUN)
    assert page.locator("#run-status").inner_text() == "held"
    page.get_by_label("Change", exact=True).select_option("deactivate")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**action=deactivate**")
    audit.check("held run, filtered", RUN)
    audit.visit(f"{held}/discard", "confirm discard", re.compile("^Discard the held sync of "))
    audit.visit("/admin/districts/nowhere", "not found", "Not found", status=404)
    audit.done()


def test_the_import_and_invitation_pages_have_no_serious_violations(
    chromium: Any, context: Any, showcase: Showcase
) -> None:
    audit = signed_in(context, showcase, "vendor_staff")
    page = audit.page
    heading = f"Import staff into {SPRINGFIELD}"
    audit.visit("/admin/districts/springfield/import", "import", heading)
    school = next(
        o["sourcedId"] for o in showcase.sandbox.districts[0].data.orgs if o["type"] == "school"
    )
    header = "first_name,last_name,email,role,school_identifier_or_sourced_id,staff_id"
    robin = f"Robin,Reader,robin.reader@springfield.example,librarian,{school},"
    casey = f"Casey,Coach,casey.coach@springfield.example,wizard,{school},"
    for rows, name in (([header, robin, casey], "import, refused"), ([header, robin], "imported")):
        page.set_input_files(
            "#file",
            files=[
                {"name": "staff.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}
            ],
        )
        page.get_by_role("button", name="Import").click()
        page.locator("#import-rows").wait_for()
        audit.check(name, heading)
    assert "Imported: 1 staff account created" in page.locator("#import-result").inner_text()

    audit.visit("/admin/districts/springfield/invite", "invite", "Invite a data manager")
    page.get_by_label("Their work email").fill(NEW_MANAGER)
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_url("**/invite?sent=sent")
    audit.check("invite, sent", "Invite a data manager")
    # The page the new data manager opens from the email, in a browser of their own.
    invited = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        invitee = invited.new_page()
        invitee.set_default_timeout(15_000)
        accept = Audit(invitee, showcase.url)
        heading = "Set up your data manager account"
        link = emailed_link(showcase, NEW_MANAGER, r"(http://\S+/staff/invitation/\S+)")
        accept.visit(link.removeprefix(showcase.url), "invitation", heading)
        invitee.get_by_label("Your name").fill("Nia Manager")
        invitee.get_by_label("New password").fill("correct horse battery staple")
        invitee.get_by_label("The same password again").fill("correct horse battery stapler")
        invitee.get_by_role("button", name="Save and sign in").click()
        invitee.locator("#accept-error").wait_for()
        # The refusal is read with the password field it is about.
        described = invitee.get_by_label("New password").get_attribute("aria-describedby")
        assert described == "password-rule accept-error", described
        accept.check("invitation, passwords differ", heading)
        audit.found.update(accept.found)
    finally:
        invited.close()
    audit.done()


def test_the_onboarding_wizards_steps_have_no_serious_violations(
    context: Any, showcase: Showcase
) -> None:
    audit = signed_in(context, showcase, "vendor_staff")
    page = audit.page
    # A new district: a mistake first, shown on its field, then Capital City's answers.
    audit.visit("/admin/onboarding", "questionnaire", STEPS["answers"])
    page.get_by_label("Short name (slug)").fill("Capital City!")
    page.get_by_role("button", name="Create district and continue").click()
    page.locator("#slug-error").wait_for()
    audit.check("questionnaire with errors", STEPS["answers"])
    page.get_by_label("Short name (slug)").fill("capital")
    page.get_by_label("Official name", exact=True).fill("Capital City School District")
    page.get_by_label("Name on the login drop-down").fill("Capital City SD – Capital City, IL")
    page.get_by_label("City", exact=True).fill("Capital City")
    page.get_by_label("State", exact=True).fill("IL")
    page.get_by_label("ClassLink tenant ID").fill("1004")
    page.get_by_label("Data managers' emails").fill("data.manager@capital.example")
    for question in ("Does the district provide grade levels", "Does every person have a unique"):
        page.get_by_role("group", name=question).get_by_label("Yes").check()
    page.get_by_label("identifier (the user's identifier field)").check()
    page.get_by_label("Set later in the portal by educators").check()
    page.get_by_role("button", name="Create district and continue").click()
    page.wait_for_url("**/admin/onboarding/capital/source")
    audit.check("source", STEPS["source"])
    url, key, secret = showcase.sandbox.roster_credentials["capital"]
    page.get_by_label("ClassLink Roster Server, OneRoster 1.1").check()
    page.get_by_label("Source URL", exact=True).fill(url)
    page.get_by_label("Key (client id)").fill(key)
    page.get_by_label("Secret", exact=True).fill(secret)
    page.get_by_role("button", name="Test connection").click()
    page.locator("#connection-result").wait_for()
    audit.check("source, connection tested", STEPS["source"])
    for step in ("schedule", "preview", "go-live"):
        audit.visit(f"/admin/onboarding/capital/{step}", step, STEPS[step])
    # Capital City pushes its files instead: the key and secret shown once, no schedule needed.
    page.goto(f"{showcase.url}/admin/onboarding/capital/source")
    page.get_by_label("The district pushes OneRoster files to us").check()
    page.get_by_role("button", name="Save and continue").click()
    page.locator("#push-secret").wait_for()
    audit.check("push key issued", "The district pushes OneRoster files")
    audit.visit("/admin/onboarding/capital/schedule", "schedule not needed", STEPS["schedule"])
    assert page.locator("#step-schedule-state").inner_text() == "not needed"
    # Springfield's steps, every one done.
    for step in ("answers", "source", "go-live"):
        audit.visit(f"/admin/onboarding/springfield/{step}", f"{step}, done", STEPS[step])
    audit.done()


def test_approving_a_held_run_has_no_serious_violations(context: Any, showcase: Showcase) -> None:
    """Last of the staff tests: the held run the others look at is approved here."""
    audit = signed_in(context, showcase, "vendor_staff")
    page = audit.page
    held = f"/admin/runs/{showcase.held_run_id}"
    page.goto(f"{showcase.url}{held}")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**{held}/approve*")
    audit.check("confirm approve", re.compile("^Approve the held sync of "))
    page.get_by_role("button", name=re.compile(r"^Approve: ")).click()
    page.wait_for_url("**/admin/runs/*?done=approved")
    audit.check("approved run", RUN)
    audit.visit(f"{held}/approve", "approve, no longer held", "Not done", status=409)
    audit.done()


def test_a_students_home_page_after_classlink_has_no_serious_violations(
    context: Any, showcase: Showcase
) -> None:
    student = next(p for p in showcase.sandbox.sso.people("1001") if p.role == "Student")
    page = context.new_page()
    audit = Audit(page, showcase.url)
    page.goto(f"{showcase.url}/login")
    page.get_by_label("Find your district").fill("spring")
    page.get_by_role("button", name="Continue with ClassLink").click()
    page.get_by_role("button", name=f"{student.display_name} — Student").click()
    page.wait_for_url(f"{showcase.url}/")
    audit.check("student's home", f"Hello, {student.display_name}")
    audit.done()


def test_an_educators_home_page_after_a_launchpad_launch_has_no_serious_violations(
    context: Any, showcase: Showcase
) -> None:
    sso = showcase.sandbox.sso
    teacher = next(p for p in sso.people("1001") if p.sourced_id.startswith("tch-"))
    page = context.new_page()
    audit = Audit(page, showcase.url)
    page.goto(sso.launch_url("educator-portal", "1001", teacher.sourced_id))
    page.wait_for_url(f"{showcase.url}/")
    audit.check("educator's home", f"Hello, {teacher.display_name}")
    # A student confirmed eligible: their badge in the class list is checked too.
    page.locator("form.inline button[name=status][value=eligible]").first.click()
    page.wait_for_url(re.compile(r"#class-"))
    page.locator(".badge.eligible").first.wait_for()
    audit.check("educator's home, a student confirmed", f"Hello, {teacher.display_name}")
    audit.done()
