"""Data managers get in by invitation or through ClassLink; staff may add TOTP. Real HTTP, both DBs.

Each test uses its own people and emails, because the admin world is shared by the module.
"""

from __future__ import annotations

import email
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from tests.integration.admin.conftest import (
    PASSWORD,
    AdminWorld,
    form_csrf,
    session_cookie,
    staff_sign_in,
)
from tests.integration.web.conftest import person_of, pick, sign_in

from rostersync.errors import ConfigError
from rostersync.staff.policy import MAX_FAILURES
from rostersync.staff.totp import totp_code
from rostersync.store.signin_tables import staff_audit, staff_invitations, staff_session_grants
from rostersync.store.tables import audit_log, educators, integrations
from rostersync.store.web_tables import staff_accounts

LINK = re.compile(r"(http://[^\s\"<>]+/staff/invitation/[A-Za-z0-9_-]+)")


def staff_changes(conn: Connection, staff_id: str) -> list[tuple[str, str]]:
    """(action, actor) of every `staff_audit` row of one staff account, oldest first."""
    rows = conn.execute(
        select(staff_audit.c.action, staff_audit.c.actor)
        .where(staff_audit.c.staff_id == staff_id)
        .order_by(staff_audit.c.id)
    )
    return [(r.action, r.actor) for r in rows]


def outbox(world: AdminWorld) -> Path:
    directory: Path = world.service.settings.resolved_outbox_dir
    return directory


def invitation_link(world: AdminWorld, to: str) -> str:
    """The link in the newest invitation email to `to`, read from the outbox folder."""
    found = []
    for path in sorted(outbox(world).glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == to:
            text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            found.append(LINK.search(text.get_payload(decode=True).decode()))
    assert found and found[-1], f"no invitation email to {to}"
    return found[-1].group(1)


def invite(browser: httpx.Client, world: AdminWorld, slug: str, to: str) -> httpx.Response:
    """Vendor staff send an invitation from the district's invite page."""
    staff_sign_in(browser, world.vendor.email)
    page = browser.get(f"/admin/districts/{slug}/invite")
    assert page.status_code == 200, page.text
    return browser.post(
        f"/admin/districts/{slug}/invite", data={"email": to, "csrf": form_csrf(page.text)}
    )


def accept(
    client: httpx.Client, link: str, password: str = PASSWORD, again: str | None = None
) -> httpx.Response:
    page = client.get(link)
    assert page.status_code == 200, page.text
    return client.post(
        link,
        data={
            "name": "Dana Manager",
            "password": password,
            "password_again": again if again is not None else password,
            "csrf": form_csrf(page.text),
        },
    )


def account_count(world: AdminWorld, address: str) -> int:
    with world.service.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).where(staff_accounts.c.email == address)).scalar_one()
        )


class TestInvitations:
    """An invitation link makes one data manager account for one district, once, within 7 days."""

    def test_an_invited_data_manager_sets_a_password_and_sees_only_their_district(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        sent = invite(browser, world, "springfield", "new.dm@springfield.example")
        assert sent.status_code == 303 and sent.headers["location"].endswith("?sent=sent")
        link = invitation_link(world, "new.dm@springfield.example")
        assert link.startswith(world.url)
        with httpx.Client(base_url=world.url) as person:
            page = person.get(link)
            assert "Springfield USD" in page.text and "new.dm@springfield.example" in page.text
            done = accept(person, link)
            assert done.status_code == 303
            assert done.headers["location"] == "/admin/districts/springfield"
            assert person.get(done.headers["location"]).status_code == 200
            districts = person.get("/admin/districts")
            assert "Springfield USD" in districts.text and "Shelbyville SD" not in districts.text
            assert person.get("/admin/districts/shelbyville").status_code == 404
        # The password signs in from now on; the link does not work twice.
        with httpx.Client(base_url=world.url) as later:
            assert staff_sign_in(later, "new.dm@springfield.example").status_code == 303
            again = later.get(link)
            assert again.status_code == 410 and "used already" in again.text

    def test_the_invitation_and_the_account_are_audited_in_the_district(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        invite(browser, world, "shelbyville", "audited.dm@shelbyville.example")
        with httpx.Client(base_url=world.url) as person:
            accept(person, invitation_link(world, "audited.dm@shelbyville.example"))
        with world.service.engine.connect() as conn:
            staff_id = conn.execute(
                select(staff_accounts.c.id).where(
                    staff_accounts.c.email == "audited.dm@shelbyville.example"
                )
            ).scalar_one()
            actions = conn.execute(
                select(audit_log.c.action, audit_log.c.entity_type).where(
                    audit_log.c.district_id == world.service.districts.get("shelbyville")[0].id,
                    audit_log.c.action.in_(["staff_invited", "staff_created"]),
                )
            ).all()
            assert [action for action, _ in staff_changes(conn, staff_id)] == ["staff_created"]
        assert ("staff_invited", "staff_invitation") in actions
        assert ("staff_created", "staff_account") in actions

    def test_only_the_hash_of_the_link_is_stored(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        invite(browser, world, "springfield", "hashed.dm@springfield.example")
        token = invitation_link(world, "hashed.dm@springfield.example").rsplit("/", 1)[1]
        with world.service.engine.connect() as conn:
            stored = conn.execute(select(staff_invitations.c.token_hash)).scalars().all()
        assert token not in stored and all(len(h) == 64 for h in stored)

    def test_a_weak_or_mismatched_password_creates_nothing(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        invite(browser, world, "springfield", "weak.dm@springfield.example")
        link = invitation_link(world, "weak.dm@springfield.example")
        with httpx.Client(base_url=world.url) as person:
            short = accept(person, link, "too short")
            assert short.status_code == 400 and "at least 12 characters" in short.text
            differ = accept(person, link, PASSWORD, "another long passphrase")
            assert differ.status_code == 400 and "differ" in differ.text
            assert account_count(world, "weak.dm@springfield.example") == 0
            # The link still works after a refused attempt.
            assert accept(person, link).status_code == 303

    @pytest.mark.parametrize("how", ["expired", "tampered"])
    def test_expired_and_tampered_links_get_a_friendly_refusal(
        self, browser: httpx.Client, world: AdminWorld, how: str
    ) -> None:
        address = f"{how}.dm@springfield.example"
        invite(browser, world, "springfield", address)
        link = invitation_link(world, address)
        if how == "expired":
            with world.service.engine.begin() as conn:
                conn.execute(
                    update(staff_invitations)
                    .where(staff_invitations.c.email == address)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
        else:
            link = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
        with httpx.Client(base_url=world.url) as person:
            page = person.get(link)
            assert page.status_code == 410
            assert ("expired" if how == "expired" else "not valid") in page.text
            posted = person.post(
                link, data={"name": "X", "password": PASSWORD, "password_again": PASSWORD}
            )
            assert posted.status_code == 410
        assert account_count(world, address) == 0

    def test_data_managers_cannot_invite(self, world: AdminWorld) -> None:
        with httpx.Client(base_url=world.url) as dm:
            staff_sign_in(dm, world.dm_springfield.email)
            assert dm.get("/admin/districts/springfield/invite").status_code == 404
            csrf = form_csrf(dm.get("/admin/districts/springfield").text)
            posted = dm.post(
                "/admin/districts/springfield/invite",
                data={"email": "sneaky@springfield.example", "csrf": csrf},
            )
            assert posted.status_code == 404

    def test_inviting_an_email_that_has_an_account_says_so(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        refused = invite(browser, world, "springfield", world.dm_shelbyville.email)
        assert refused.status_code == 400 and "already" in refused.text
        with pytest.raises(ConfigError, match="not an email"):
            world.service.staff.invite(district="springfield", email="not an email", actor="test")


def teacher_email(world: AdminWorld, tenant: str, index: int) -> tuple[str, str]:
    """(sourcedId, email) of a rostered educator: teachers first, then other school staff."""
    educators = [
        p for p in world.sandbox.sso.people(tenant) if p.sourced_id.startswith(("tch-", "stf-"))
    ]
    found = sorted(educators, key=lambda p: p.sourced_id)[index]
    return found.sourced_id, found.email.lower()


class TestThroughClassLink:
    """An educator who is their district's data manager gets /admin for that district only."""

    def test_an_educator_with_a_data_manager_account_of_their_district_gets_its_admin(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        sourced_id, address = teacher_email(world, "1001", 1)
        world.service.staff.add_staff(
            email=address, display_name="Teacher DM", role="data_manager",
            password="a long enough password", district="springfield",
        )  # fmt: skip
        assert sign_in(browser, world.sandbox, "springfield", "1001", sourced_id).status_code == 303
        assert browser.get("/").status_code == 200  # still their educator home
        districts = browser.get("/admin/districts")
        assert districts.status_code == 200 and "Data manager" in districts.text
        assert "Springfield USD" in districts.text and "Shelbyville SD" not in districts.text
        assert browser.get("/admin/districts/springfield/issues").status_code == 200
        for path in ("/admin/districts/shelbyville", "/admin/districts/shelbyville/audit"):
            assert browser.get(path).status_code == 404
        shelbyville_run = world.service.runs.recent("shelbyville", limit=1)[0].id
        assert browser.get(f"/admin/runs/{shelbyville_run}").status_code == 404

    def test_headed_for_the_staff_home_a_data_manager_lands_on_their_district(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        """A ClassLink sign-in that was headed for /admin ends where a password one does: on
        a data manager's district page; an ordinary educator's goes on to the staff gate."""
        dm_id, dm_address = teacher_email(world, "1001", 9)
        world.service.staff.add_staff(
            email=dm_address, display_name="Landing DM", role="data_manager",
            password="a long enough password", district="springfield",
        )  # fmt: skip
        plain_id, _ = teacher_email(world, "1001", 10)
        district = world.sandbox.district_ids["springfield"]

        def classlink_sign_in(sourced_id: str, next_path: str) -> httpx.Response:
            start = browser.get("/login/start", params={"district": district, "next": next_path})
            assert start.status_code == 303, start.text
            return browser.get(pick(browser, start.headers["location"], "1001", sourced_id).url)

        for asked in ("/admin/districts", "/admin"):
            done = classlink_sign_in(dm_id, asked)
            assert done.status_code == 303
            assert done.headers["location"] == "/admin/districts/springfield"
        # Without a `next`, the educator's own home, as for any educator.
        assert classlink_sign_in(dm_id, "/").headers["location"] == "/"
        done = classlink_sign_in(plain_id, "/admin/districts")
        assert done.status_code == 303 and done.headers["location"] == "/admin/districts"
        gated = browser.get("/admin/districts")
        assert gated.status_code == 303 and gated.headers["location"].startswith("/staff/login")

    def test_an_email_listed_in_the_onboarding_answers_gets_an_account_made_and_audited(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        sourced_id, address = teacher_email(world, "1002", 2)
        district_id = world.service.districts.get("shelbyville")[0].id
        with world.service.engine.begin() as conn:
            conn.execute(
                update(integrations)
                .where(integrations.c.district_id == district_id)
                .values(data_manager_emails=[address.upper()])
            )
        assert account_count(world, address) == 0
        assert sign_in(browser, world.sandbox, "shelbyville", "1002", sourced_id).status_code == 303
        page = browser.get("/admin/districts")
        assert "Shelbyville SD" in page.text and "Springfield USD" not in page.text
        assert browser.get("/admin/districts/springfield").status_code == 404
        with world.service.engine.connect() as conn:
            account = conn.execute(
                select(staff_accounts).where(staff_accounts.c.email == address)
            ).one()
            actions = conn.execute(
                select(audit_log.c.action).where(audit_log.c.entity_id == account.id)
            ).scalars()
            assert list(actions) == ["staff_created", "staff_signed_in"]
        assert account.role == "data_manager" and account.district_id == district_id
        # No password signs in to an account made through ClassLink.
        with httpx.Client(base_url=world.url) as other:
            assert staff_sign_in(other, address, "!classlink-only").status_code == 401

    def test_an_ordinary_educator_and_a_student_get_no_admin(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        sourced_id, _ = teacher_email(world, "1001", 3)
        assert sign_in(browser, world.sandbox, "springfield", "1001", sourced_id).status_code == 303
        assert browser.get("/admin/districts").status_code == 303
        student = person_of(world.sandbox, "1001", "Student", 4)
        sign_in(browser, world.sandbox, "springfield", "1001", student.sourced_id)
        assert browser.get("/admin/districts").status_code == 303

    def test_another_districts_data_manager_account_gives_no_rights(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        """A Springfield educator whose email is Shelbyville's data manager gets nothing, and
        a vendor staff account's email never grants vendor rights through ClassLink."""
        sourced_id, address = teacher_email(world, "1001", 4)
        world.service.staff.add_staff(
            email=address, display_name="Elsewhere", role="data_manager",
            password="a long enough password", district="shelbyville",
        )  # fmt: skip
        assert sign_in(browser, world.sandbox, "springfield", "1001", sourced_id).status_code == 303
        assert browser.get("/admin/districts").status_code == 303
        vendor_sourced, vendor_address = teacher_email(world, "1001", 5)
        world.service.staff.add_staff(
            email=vendor_address, display_name="Vendor", role="vendor_staff",
            password="a long enough password", district=None,
        )  # fmt: skip
        assert (
            sign_in(browser, world.sandbox, "springfield", "1001", vendor_sourced).status_code
            == 303
        )
        assert browser.get("/admin/districts").status_code == 303
        with world.service.engine.connect() as conn:
            granted = set(conn.execute(select(staff_session_grants.c.staff_id)).scalars())
            vendors = set(
                conn.execute(
                    select(staff_accounts.c.id).where(staff_accounts.c.role == "vendor_staff")
                ).scalars()
            )
        assert not granted & vendors

    def test_no_rights_when_the_email_may_be_shared(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        """Neither a district that did not promise unique emails, nor an address two active
        educators share, lets the email stand for the data manager."""
        sourced_id, address = teacher_email(world, "1001", 7)
        other_id, _ = teacher_email(world, "1001", 8)
        world.service.staff.add_staff(
            email=address, display_name="Shared DM", role="data_manager",
            password="a long enough password", district="springfield",
        )  # fmt: skip
        district_id = world.service.districts.get("springfield")[0].id
        engine = world.service.engine
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(integrations)
                    .where(integrations.c.district_id == district_id)
                    .values(unique_emails_provided=False)
                )
            assert (
                sign_in(browser, world.sandbox, "springfield", "1001", sourced_id).status_code
                == 303
            )
            assert browser.get("/admin/districts").status_code == 303
        finally:
            with engine.begin() as conn:
                conn.execute(
                    update(integrations)
                    .where(integrations.c.district_id == district_id)
                    .values(unique_emails_provided=True)
                )
        with engine.begin() as conn:
            before = conn.execute(
                select(educators.c.email).where(
                    educators.c.district_id == district_id, educators.c.sourced_id == other_id
                )
            ).scalar_one()
            conn.execute(
                update(educators)
                .where(educators.c.district_id == district_id, educators.c.sourced_id == other_id)
                .values(email=address.upper())
            )
        try:
            assert (
                sign_in(browser, world.sandbox, "springfield", "1001", sourced_id).status_code
                == 303
            )
            assert browser.get("/admin/districts").status_code == 303
        finally:
            with engine.begin() as conn:
                conn.execute(
                    update(educators)
                    .where(
                        educators.c.district_id == district_id, educators.c.sourced_id == other_id
                    )
                    .values(email=before)
                )
        # With both fixed, the same person gets their rights.
        assert sign_in(browser, world.sandbox, "springfield", "1001", sourced_id).status_code == 303
        assert browser.get("/admin/districts").status_code == 200

    def test_signing_out_ends_the_admin_rights_too(
        self, browser: httpx.Client, world: AdminWorld
    ) -> None:
        sourced_id, address = teacher_email(world, "1001", 6)
        world.service.staff.add_staff(
            email=address, display_name="Leaving DM", role="data_manager",
            password="a long enough password", district="springfield",
        )  # fmt: skip
        assert sign_in(browser, world.sandbox, "springfield", "1001", sourced_id).status_code == 303
        token = session_cookie(browser)
        csrf = form_csrf(browser.get("/admin/districts").text)
        assert browser.post("/staff/logout", data={"csrf": csrf}).status_code == 303
        browser.cookies.set("rostersync_session", token or "")
        assert browser.get("/admin/districts").status_code == 303
        assert browser.get("/").status_code == 303


def enrol(client: httpx.Client) -> str:
    """Turn TOTP on for the signed-in staff member; returns the secret."""
    page = client.get("/staff/totp")
    assert page.status_code == 200, page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret and "otpauth://totp/" in page.text
    wrong = client.post("/staff/totp", data={"code": "000000", "csrf": form_csrf(page.text)})
    if wrong.status_code == 303:  # 000000 happened to be right: vanishingly rare, but honest
        return secret.group(1)
    assert wrong.status_code == 400 and "does not match" in wrong.text
    code = totp_code(secret.group(1), time.time())
    done = client.post("/staff/totp", data={"code": code, "csrf": form_csrf(page.text)})
    assert done.status_code == 303
    assert "Two-step sign-in is on" in client.get("/staff/totp").text
    return secret.group(1)


def code_step(client: httpx.Client, code: str) -> httpx.Response:
    return client.post("/staff/login/code", data={"code": code})


def new_staff(world: AdminWorld, address: str) -> None:
    world.service.staff.add_staff(
        email=address, display_name="Toni Totp", role="data_manager", password=PASSWORD,
        district="springfield",
    )  # fmt: skip


class TestTotp:
    """After enrolment the password is not enough: a code is asked, accepted once, and failures
    lock the account; vendor staff can reset it."""

    def test_enrolment_then_a_code_step_that_accepts_a_code_once(self, world: AdminWorld) -> None:
        new_staff(world, "totp.one@springfield.example")
        with httpx.Client(base_url=world.url) as client:
            staff_sign_in(client, "totp.one@springfield.example")
            secret = enrol(client)
        with httpx.Client(base_url=world.url) as client:
            halfway = staff_sign_in(client, "totp.one@springfield.example")
            assert halfway.headers["location"] == "/staff/login/code"
            assert session_cookie(client) is None
            assert client.get("/admin/districts").status_code == 303
            assert "Sign-in code" in client.get("/staff/login/code").text
            # The next step's code: the enrolment used this step's.
            code = totp_code(secret, time.time() + 30)
            done = code_step(client, code)
            assert done.status_code == 303
            assert done.headers["location"] == "/admin/districts/springfield"
            assert client.get("/admin/districts").status_code == 200
        with httpx.Client(base_url=world.url) as replay:
            staff_sign_in(replay, "totp.one@springfield.example")
            refused = code_step(replay, code)
            assert refused.status_code == 401 and "each code works once" in refused.text
            assert session_cookie(replay) is None

    def test_the_secret_is_encrypted_at_rest_and_the_change_audited(
        self, world: AdminWorld
    ) -> None:
        new_staff(world, "totp.two@springfield.example")
        with httpx.Client(base_url=world.url) as client:
            staff_sign_in(client, "totp.two@springfield.example")
            secret = enrol(client)
        with world.service.engine.connect() as conn:
            row = conn.execute(
                select(staff_accounts.c.id, staff_accounts.c.totp_secret_ciphertext).where(
                    staff_accounts.c.email == "totp.two@springfield.example"
                )
            ).one()
            assert [a for a, _ in staff_changes(conn, row.id)] == ["totp_on"]
        assert secret not in row.totp_secret_ciphertext
        assert world.service.staff.box.decrypt(row.totp_secret_ciphertext) == secret

    def test_wrong_codes_lock_the_account_and_a_reset_lets_the_person_back_in(
        self, world: AdminWorld
    ) -> None:
        new_staff(world, "totp.three@springfield.example")
        with httpx.Client(base_url=world.url) as client:
            staff_sign_in(client, "totp.three@springfield.example")
            secret = enrol(client)
        with httpx.Client(base_url=world.url) as client:
            staff_sign_in(client, "totp.three@springfield.example")
            wrong = f"{(int(totp_code(secret, time.time())) + 500_000) % 1_000_000:06d}"
            for _ in range(MAX_FAILURES):
                code_step(client, wrong)
            # Locked: even the right password and a fresh code get nowhere now.
            assert staff_sign_in(client, "totp.three@springfield.example").status_code == 401
            assert session_cookie(client) is None
        staff_id = world.service.staff.reset_totp(
            "totp.three@springfield.example", actor="staff:test"
        )
        with httpx.Client(base_url=world.url) as client:
            done = staff_sign_in(client, "totp.three@springfield.example")
            assert done.status_code == 303
            assert done.headers["location"] == "/admin/districts/springfield"
        with world.service.engine.connect() as conn:
            assert [a for a, _ in staff_changes(conn, staff_id)][-1] == "totp_reset"

    def test_a_code_step_without_its_cookie_goes_back_to_the_password(
        self, world: AdminWorld
    ) -> None:
        with httpx.Client(base_url=world.url) as client:
            assert client.get("/staff/login/code").headers["location"] == "/staff/login"
            assert code_step(client, "123456").status_code == 401
            assert session_cookie(client) is None
