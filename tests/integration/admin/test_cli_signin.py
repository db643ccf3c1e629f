"""`rostersync staff invite` emails a one-time link; `staff reset-totp` lets a locked-out person
back in (SQLite, outbox sender)."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli.main import app
from rostersync.config import get_settings
from rostersync.services import Questionnaire, Services
from rostersync.staff.models import CodeNeeded, StaffSignedIn
from rostersync.staff.totp import totp_code
from rostersync.store.signin_tables import staff_audit

PASSWORD = "a sufficiently long passphrase"


def staff_changes(conn: Connection, staff_id: str) -> list[tuple[str, str]]:
    """(action, actor) of every `staff_audit` row of one staff account, oldest first."""
    rows = conn.execute(
        select(staff_audit.c.action, staff_audit.c.actor)
        .where(staff_audit.c.staff_id == staff_id)
        .order_by(staff_audit.c.id)
    )
    return [(r.action, r.actor) for r in rows]


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    with cli_environment(tmp_path, monkeypatch, chdir=False):
        svc = Services(get_settings())
        svc.init_db()
        svc.districts.add(
            Questionnaire(
                slug="springfield",
                name="Springfield Unified School District",
                display_name="Springfield USD – Springfield, IL",
                city="Springfield",
                state="IL",
                source_kind="none",
            )
        )
        yield svc
        svc.close()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["staff", *args])
    return result.exit_code, result.output


class TestStaffInvite:
    """The invitation goes to the outbox with a link the accept page takes."""

    def test_invite_writes_the_email_and_the_link_makes_the_account(
        self, service: Services
    ) -> None:
        code, out = run("invite", "--district", "springfield", "dm@springfield.example")
        assert code == 0, out
        assert "sent through the outbox" in out
        (eml,) = service.settings.resolved_outbox_dir.glob("*.eml")
        message = email.message_from_bytes(eml.read_bytes())
        assert message["To"] == "dm@springfield.example"
        assert "Springfield USD" in message["Subject"]
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        link = re.search(r"/staff/invitation/(\S+)", text.get_payload(decode=True).decode())
        assert link
        signed_in = service.staff.accept_invitation(
            link.group(1),
            display_name="Dana",
            password=PASSWORD,
            password_again=PASSWORD,
            previous_session=None,
        )
        assert isinstance(signed_in, StaffSignedIn)
        assert signed_in.viewer.role == "data_manager"
        assert signed_in.viewer.district_id == service.districts.get("springfield")[0].id

    def test_an_unknown_district_is_refused_and_nothing_is_sent(self, service: Services) -> None:
        code, out = run("invite", "--district", "nowhere", "dm@springfield.example")
        assert code == 2 and "Error" in out
        assert not list(service.settings.resolved_outbox_dir.glob("*.eml"))


class TestResetTotp:
    """A reset turns TOTP off (the password alone signs in again) and is audited."""

    def test_reset_turns_totp_off_and_is_audited(self, service: Services) -> None:
        staff_id = service.staff.add_staff(
            email="ops@portal.example", display_name="Ops", role="vendor_staff",
            password=PASSWORD, district=None,
        )  # fmt: skip
        signed_in = service.staff.sign_in("ops@portal.example", PASSWORD, previous_session=None)
        enrolment = service.staff.begin_totp(signed_in.viewer)
        service.staff.confirm_totp(signed_in.viewer, totp_code(enrolment.secret, time.time()))
        halfway = service.staff.sign_in("ops@portal.example", PASSWORD, previous_session=None)
        assert isinstance(halfway, CodeNeeded)
        code, out = run("reset-totp", "ops@portal.example")
        assert code == 0 and staff_id in out
        again = service.staff.sign_in("ops@portal.example", PASSWORD, previous_session=None)
        assert isinstance(again, StaffSignedIn)
        with service.engine.connect() as conn:
            assert staff_changes(conn, staff_id) == [
                ("totp_on", f"staff:{staff_id}"),
                ("totp_reset", "cli:vendor_staff"),
            ]

    def test_an_unknown_email_is_refused(self, service: Services) -> None:
        code, out = run("reset-totp", "nobody@portal.example")
        assert code == 2 and "no staff account" in out
