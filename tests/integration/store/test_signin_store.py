"""The sign-in store's single-use rules hold in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from rostersync.store import admin as store_admin
from rostersync.store import signin
from rostersync.store import web as store_web
from rostersync.store.districts import DistrictRecord
from rostersync.store.runs import audit_entries
from rostersync.store.signin_tables import staff_audit, staff_session_grants
from rostersync.store.web_tables import web_sessions

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def staff_changes(conn: Connection, staff_id: str) -> list[tuple[str, str]]:
    """(action, actor) of every `staff_audit` row of one staff account, oldest first."""
    rows = conn.execute(
        select(staff_audit.c.action, staff_audit.c.actor)
        .where(staff_audit.c.staff_id == staff_id)
        .order_by(staff_audit.c.id)
    )
    return [(r.action, r.actor) for r in rows]


def data_manager(conn: Connection, district: DistrictRecord, email: str = "dm@x.example") -> str:
    return store_admin.create_staff(
        conn, email=email, display_name="Dana", role="data_manager",
        district_id=district.id, password_hash="$argon2id$not-a-real-hash", now=NOW,
    )  # fmt: skip


class TestSingleUse:
    """An invitation and a TOTP time step can each be used once, whoever asks second loses."""

    def test_an_invitation_is_used_once(self, conn: Connection, district: DistrictRecord) -> None:
        invitation = signin.create_invitation(
            conn, token_hash="a" * 64, district_id=district.id, email=" DM@X.example ",
            invited_by="staff:1", now=NOW, lifetime=timedelta(days=7),
        )  # fmt: skip
        found = signin.invitation_by_token(conn, "a" * 64)
        assert found is not None and found.email == "dm@x.example" and found.accepted_at is None
        assert found.expires_at == NOW + timedelta(days=7)
        staff_id = data_manager(conn, district)
        assert signin.use_invitation(conn, invitation, staff_id=staff_id, now=NOW)
        assert not signin.use_invitation(conn, invitation, staff_id=staff_id, now=NOW)
        used = signin.invitation_by_token(conn, "a" * 64)
        assert used is not None and used.accepted_at == NOW
        assert signin.invitation_by_token(conn, "b" * 64) is None

    def test_a_totp_step_is_accepted_once_and_never_an_older_one(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        staff_id = data_manager(conn, district)
        assert signin.use_totp_step(conn, staff_id, 10)
        assert not signin.use_totp_step(conn, staff_id, 10)
        assert not signin.use_totp_step(conn, staff_id, 9)
        assert signin.use_totp_step(conn, staff_id, 11)

    def test_turning_totp_on_and_off(self, conn: Connection, district: DistrictRecord) -> None:
        staff_id = data_manager(conn, district)
        signin.set_pending_totp(conn, staff_id, "ciphertext-1")
        assert signin.pending_totp(conn, staff_id) == "ciphertext-1"
        assert signin.totp_ciphertext(conn, staff_id) is None
        signin.turn_on_totp(conn, staff_id, "ciphertext-1", step=20)
        assert signin.totp_ciphertext(conn, staff_id) == "ciphertext-1"
        assert signin.pending_totp(conn, staff_id) is None
        assert not signin.use_totp_step(conn, staff_id, 20)  # the confirming code is spent
        assert signin.turn_off_totp(conn, staff_id)
        assert signin.totp_ciphertext(conn, staff_id) is None
        assert not signin.turn_off_totp(conn, staff_id)


class TestGrants:
    """A ClassLink grant lives exactly as long as its session."""

    def test_ending_the_session_ends_the_grant(
        self, conn: Connection, district: DistrictRecord
    ) -> None:
        staff_id = data_manager(conn, district)
        account = store_web.Account(
            kind="educator", id="edu-1", district_id=district.id, active=True, enabled=True
        )
        store_web.create_session(
            conn, token="tok", csrf_token="c", account=account, now=NOW,
            lifetime=timedelta(hours=1),
        )  # fmt: skip
        hashed = store_web.digest("tok")
        signin.grant_session(
            conn, token_hash=hashed, staff_id=staff_id, district_id=district.id, now=NOW
        )
        assert signin.granted_staff(conn, hashed) == (staff_id, district.id)
        store_web.delete_session(conn, "tok")
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() == 0
        assert (
            conn.execute(select(func.count()).select_from(staff_session_grants)).scalar_one() == 0
        )
        assert signin.granted_staff(conn, hashed) is None


class TestStaffAudit:
    """Staff changes land in the staff audit, and in the district's audit log when it has one."""

    def test_district_and_vendor_changes(self, conn: Connection, district: DistrictRecord) -> None:
        staff_id = data_manager(conn, district)
        signin.record_staff_change(
            conn, staff_id=staff_id, district_id=district.id, actor="staff:v", action="totp_on",
            now=NOW, changes={"fields": ["totp"]},
        )  # fmt: skip
        signin.record_staff_change(
            conn, staff_id="vendor-1", district_id=None, actor="cli:vendor_staff",
            action="totp_reset", now=NOW,
        )  # fmt: skip
        assert staff_changes(conn, staff_id) == [("totp_on", "staff:v")]
        assert staff_changes(conn, "vendor-1") == [("totp_reset", "cli:vendor_staff")]
        (entry,) = audit_entries(conn, district.id)
        assert (entry.action, entry.entity_type, entry.entity_id) == (
            "totp_on",
            "staff_account",
            staff_id,
        )
