"""Local accounts for vendor staff and district data managers: argon2id passwords, sessions, scope.

Staff sign in with an email and password (not ClassLink), and their session is a row of the
portal's one session table with person kind "staff". Who may see what is decided here and only
here (`StaffViewer.can_see`): vendor staff see every district, a data manager only their own.

Sign-in is deliberately uniform: an unknown email, a wrong password, a turned-off account and a
locked account all get the same answer, and each path verifies one argon2 hash, so neither the
message nor the time taken tells an attacker whether an email has an account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.errors import ConfigError, RosterSyncError
from rostersync.store import admin as store
from rostersync.store import districts as store_districts
from rostersync.store import web as store_web

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12

_log = structlog.get_logger(__name__)


class StaffSignInRefused(RosterSyncError):
    """The email and password did not sign anyone in (one message for every cause)."""

    def __init__(self) -> None:
        super().__init__(
            "That email and password did not match an active staff account. Check them and try "
            "again; after several failed attempts an account is locked for 15 minutes."
        )


@dataclass(frozen=True, slots=True)
class StaffViewer:
    """The staff member a session belongs to."""

    id: str
    email: str
    display_name: str
    role: str
    district_id: str | None
    csrf_token: str = field(repr=False)

    @property
    def is_vendor_staff(self) -> bool:
        return self.role == "vendor_staff"

    def can_see(self, district_id: str) -> bool:
        """The one scoping rule: vendor staff see every district, a data manager their own."""
        return self.is_vendor_staff or (
            self.district_id is not None and secrets.compare_digest(self.district_id, district_id)
        )

    @property
    def actor(self) -> str:
        """How this person appears in the audit log (an id, never a name or email)."""
        return f"staff:{self.id}"


@dataclass(frozen=True, slots=True)
class StaffSignedIn:
    """A completed staff sign-in: the new session's cookie token."""

    session_token: str = field(repr=False)
    viewer: StaffViewer


class StaffAuth:
    """Staff accounts and sign-in over one database.

    Args:
        engine: The portal database.
        settings: Session lifetime.
        hasher: The argon2id hasher (tests may pass cheaper parameters).
    """

    def __init__(
        self, engine: Engine, settings: Settings, hasher: PasswordHasher | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.hasher = hasher or PasswordHasher()
        # Verified when the email is unknown, so that path costs as much as a wrong password.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def add_staff(
        self,
        *,
        email: str,
        display_name: str,
        role: str,
        password: str,
        district: str | None = None,
    ) -> str:
        """Create a local staff account; returns its id.

        Args:
            email: The sign-in email (stored lower-cased).
            display_name: The name shown in the page header.
            role: "vendor_staff" or "data_manager".
            password: At least 12 characters; only its argon2id hash is stored.
            district: A data manager's district (slug or id); none for vendor staff.

        Raises:
            ConfigError: A short password, a taken email, or a role without its district.
            NotFoundError: No such district.
        """
        if len(password) < MIN_PASSWORD:
            raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")
        if "@" not in email or not display_name.strip():
            raise ConfigError("give the person's email address and their name (--name)")
        password_hash = self.hasher.hash(password)
        with self.engine.begin() as conn:
            district_id = (
                store_districts.get_district(conn, district).id if district is not None else None
            )
            staff_id = store.create_staff(
                conn,
                email=email,
                display_name=display_name,
                role=role,
                district_id=district_id,
                password_hash=password_hash,
                now=datetime.now(UTC),
            )
        _log.info("staff.added", staff_id=staff_id, role=role, district=district_id)
        return staff_id

    def sign_in(
        self, email: str, password: str, *, previous_session: str | None = None
    ) -> StaffSignedIn:
        """Check an email and password; on success start a new session.

        Args:
            email: As typed.
            password: As typed.
            previous_session: The browser's current session token (any kind); it is ended.

        Raises:
            StaffSignInRefused: Unknown email, wrong password, turned off, or locked.
        """
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            staff = store.staff_by_email(conn, email)
            locked = staff is not None and store.locked_until(conn, staff.id, now=now) is not None
        ok = self._verify(staff.password_hash if staff else self._dummy_hash, password)
        if staff is None:
            _log.info("staff.sign_in_refused", reason="unknown_email")
            raise StaffSignInRefused()
        if not ok or locked or not staff.active:
            with self.engine.begin() as conn:
                if not ok:
                    store.record_failure(
                        conn, staff.id, now=now, limit=MAX_FAILURES, lock_for=LOCK_FOR
                    )
            reason = "locked" if locked else ("inactive" if not staff.active else "bad_password")
            _log.info("staff.sign_in_refused", staff_id=staff.id, reason=reason)
            raise StaffSignInRefused()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            store.clear_failures(conn, staff.id)
            if self.hasher.check_needs_rehash(staff.password_hash):
                store.set_password_hash(conn, staff.id, self.hasher.hash(password))
            if previous_session:
                store_web.delete_session(conn, previous_session)
            store.create_staff_session(
                conn,
                token_hash=store_web.digest(token),
                csrf_token=csrf,
                staff=staff,
                now=now,
                lifetime=timedelta(seconds=self.settings.session_max_age_seconds),
            )
        _log.info("staff.signed_in", staff_id=staff.id, role=staff.role)
        return StaffSignedIn(token, self._viewer(staff, csrf))

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def viewer(self, token: str | None) -> StaffViewer | None:
        """The staff member behind a session cookie; None for no, expired or non-staff sessions
        and for accounts turned off since they signed in."""
        if not token:
            return None
        with self.engine.connect() as conn:
            session = store_web.get_session(conn, token, now=datetime.now(UTC))
            if session is None or session.person_kind != "staff":
                return None
            staff = store.staff_by_id(conn, session.person_id)
        if staff is None or not staff.active:
            return None
        return self._viewer(staff, session.csrf_token)

    @staticmethod
    def _viewer(staff: store.StaffAccount, csrf: str) -> StaffViewer:
        return StaffViewer(
            id=staff.id,
            email=staff.email,
            display_name=staff.display_name,
            role=staff.role,
            district_id=staff.district_id,
            csrf_token=csrf,
        )


__all__ = ["StaffAuth", "StaffSignInRefused", "StaffSignedIn", "StaffViewer"]
