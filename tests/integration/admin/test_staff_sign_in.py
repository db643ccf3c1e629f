"""Vendor staff and data managers sign in with local accounts over real HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from tests.integration.admin.conftest import (
    AdminWorld,
    form_csrf,
    session_cookie,
    staff_sign_in,
)
from tests.integration.web.conftest import person_of, sign_in

from rostersync.staff.policy import MAX_FAILURES
from rostersync.store.web import digest
from rostersync.store.web_tables import staff_accounts, web_sessions


class TestStaffSignIn:
    """A right email and password start a staff session; anything else gets one generic answer."""

    def test_signing_in_lands_on_the_districts_page(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        response = staff_sign_in(browser, world.vendor.email)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/districts"
        page = browser.get("/admin/districts")
        assert page.status_code == 200
        assert "Springfield USD" in page.text and "Shelbyville SD" in page.text

    def test_a_data_manager_lands_on_their_districts_health(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        """Each data manager lands on their own district's page, health first; /admin too."""
        for dm, slug, name in (
            (world.dm_springfield, "springfield", "Springfield USD"),
            (world.dm_shelbyville, "shelbyville", "Shelbyville SD"),
        ):
            response = staff_sign_in(browser, dm.email)
            assert response.status_code == 303
            assert response.headers["location"] == f"/admin/districts/{slug}"
            page = browser.get(response.headers["location"])
            assert page.status_code == 200
            assert f'<h1 id="district-name">{name} – ' in page.text
            for figure in ('id="last-success"', 'id="open-errors"', 'id="run-chart"'):
                assert figure in page.text
            home = browser.get("/admin")
            assert (
                home.status_code == 303 and home.headers["location"] == f"/admin/districts/{slug}"
            )

    def test_vendor_staff_land_on_the_list_from_the_staff_home_too(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        response = staff_sign_in(browser, world.vendor.email, next_path="/")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/districts"
        home = browser.get("/admin")
        assert home.status_code == 303 and home.headers["location"] == "/admin/districts"

    def test_a_page_a_data_manager_asked_for_is_where_they_land(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        """Sent to sign in from a page (the gate's `next`), they go back to it, list or not."""
        for asked in ("/admin/districts/springfield/issues", "/admin/districts?cursor="):
            response = staff_sign_in(browser, world.dm_springfield.email, next_path=asked)
            assert response.status_code == 303 and response.headers["location"] == asked
        listed = browser.get("/admin/districts")
        assert listed.status_code == 200 and "Springfield USD" in listed.text

    def test_wrong_password_and_unknown_email_get_the_same_answer(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        wrong = staff_sign_in(browser, world.dm_shelbyville.email, "not the password at all")
        unknown = staff_sign_in(browser, "nobody@portal.example", "not the password at all")
        assert wrong.status_code == unknown.status_code == 401
        assert session_cookie(browser) is None

        def error(page: str) -> str:
            return page.split('id="login-error">')[1].split("<")[0]

        assert error(wrong.text) == error(unknown.text)
        staff_sign_in(browser, world.dm_shelbyville.email)  # a success resets the counter

    def test_a_sign_in_gets_a_new_session_id_and_ends_the_old_one(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        staff_sign_in(browser, world.vendor.email)
        first = session_cookie(browser)
        staff_sign_in(browser, world.vendor.email)
        second = session_cookie(browser)
        assert first and second and first != second
        with world.service.engine.connect() as conn:
            hashes = set(conn.execute(select(web_sessions.c.token_hash)).scalars())
        assert digest(second) in hashes and digest(first) not in hashes

    def test_signing_out_ends_the_session(self, browser: httpx.Client, world: AdminWorld) -> None:
        staff_sign_in(browser, world.vendor.email)
        token = session_cookie(browser)
        csrf = form_csrf(browser.get("/admin/districts").text)
        assert browser.post("/staff/logout", data={"csrf": csrf}).status_code == 303
        browser.cookies.set("rostersync_session", token or "")
        assert browser.get("/admin/districts").status_code == 303

    def test_a_sign_in_form_without_its_csrf_cookie_is_refused(self, world: AdminWorld) -> None:
        with httpx.Client(base_url=world.url) as fresh:
            response = fresh.post(
                "/staff/login",
                data={"email": world.vendor.email, "password": "x", "csrf": "forged"},
            )
        assert response.status_code == 401 and "expired" in response.text
        assert "rostersync_session" not in response.cookies

    def test_the_account_locks_after_repeated_failures(self, world: AdminWorld) -> None:
        email = "locked@portal.example"
        world.service.staff.add_staff(
            email=email, display_name="Lee Locked", role="vendor_staff",
            password="a long enough password", district=None,
        )  # fmt: skip
        with httpx.Client(base_url=world.url) as client:
            for _ in range(MAX_FAILURES):
                assert staff_sign_in(client, email, "wrong password!!").status_code == 401
            # The right password no longer signs in while the lock lasts.
            assert staff_sign_in(client, email, "a long enough password").status_code == 401

    def test_passwords_are_stored_as_argon2id_hashes(self, world: AdminWorld) -> None:
        with world.service.engine.connect() as conn:
            stored = conn.execute(
                select(staff_accounts.c.password_hash).where(staff_accounts.c.id == world.vendor.id)
            ).scalar_one()
        assert stored.startswith("$argon2id$")


class TestNoAdminForOthers:
    """Without a staff session the admin pages and API are closed."""

    def test_an_anonymous_browser_is_sent_to_the_staff_sign_in(self, browser: httpx.Client) -> None:
        response = browser.get("/admin/districts/springfield")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/login?next=/admin/districts")
        assert browser.get("/api/v1/districts").status_code == 401

    def test_a_signed_in_student_gets_no_admin_access(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        student = person_of(world.sandbox, "1001", "Student")
        signed_in = sign_in(browser, world.sandbox, "springfield", "1001", student.sourced_id)
        assert signed_in.status_code == 303 and session_cookie(browser)
        assert browser.get("/admin/districts").status_code == 303
        assert browser.get("/api/v1/districts").status_code == 401
