"""Local accounts for vendor staff and district data managers: argon2id passwords, sessions, scope.

Staff sign in with an email and password (not ClassLink), and their session is a row of the
portal's one session table with person kind "staff". Who may see what is decided here and only
here (`StaffViewer.can_see`): vendor staff see every district, a data manager only their own.

Sign-in is deliberately uniform: an unknown email, a wrong password, a turned-off account and a
locked account all get the same answer, and each path verifies one argon2 hash, so neither the
message nor the time taken tells an attacker whether an email has an account.

How a district's data manager gets in (docs/decisions and the README have the long version):

    invitation      vendor staff invite an email for one district; the emailed link (random
                    token, stored hashed, 7 days, single use) lets the person set a password,
                    which makes a `data_manager` account of that district
    ClassLink       an educator who signs in through ClassLink also gets data-manager rights for
                    their own district, for that session only, when the district said its emails
                    are unique, their rostered email belongs to exactly one active educator
                    there, and it is either an active data-manager
                    account's email in that same district or listed as a data manager email in
                    the district's onboarding answers (then the account is made, without a
                    password, and audited). Nobody gets vendor-staff rights through ClassLink.

Optional TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, one step either side) adds a code
step after the password; a code is accepted once, and wrong codes count toward the lockout.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.errors import ConfigError
from rostersync.staff.errors import StaffCodeRefused, StaffSignInRefused, TotpRefused
from rostersync.staff.invitations import Invitations
from rostersync.staff.limits import RateLimits
from rostersync.staff.models import CodeNeeded, StaffSignedIn, StaffViewer, TotpEnrolment
from rostersync.staff.policy import CODE_STEP_LIFETIME, MAX_FAILURES, MIN_PASSWORD
from rostersync.staff.totp import matching_step, new_totp_secret, otpauth_uri
from rostersync.store import admin as store
from rostersync.store import districts as store_districts
from rostersync.store import signin as store_signin
from rostersync.store import web as store_web
from rostersync.store.secrets import SecretBox

_log = structlog.get_logger(__name__)


class StaffAuth(Invitations):
    """Staff accounts and sign-in over one database.

    Args:
        engine: The portal database.
        settings: Session lifetime, and the password hash's costs.
        hasher: The argon2id hasher (tests may pass cheaper parameters).
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        hasher: PasswordHasher | None = None,
        *,
        clock: Any = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.hasher = hasher or PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )
        # Unix seconds: TOTP codes, and the time sign-in and its lockout go by; tests move it.
        self.clock = clock or (lambda: datetime.now(UTC).timestamp())
        self._box: SecretBox | None = None
        # Verified when the email is unknown, so that path costs as much as a wrong password.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        self.limits = RateLimits(settings)
        self.lock_for = timedelta(seconds=settings.staff_lockout_seconds)

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
        self,
        email: str,
        password: str,
        *,
        previous_session: str | None = None,
        next_path: str = "/admin/districts",
    ) -> StaffSignedIn | CodeNeeded:
        """Check an email and password; on success start a new session, or, when the account
        uses TOTP, a code step (`CodeNeeded`) that `sign_in_code` completes.

        Args:
            email: As typed.
            password: As typed.
            previous_session: The browser's current session token (any kind); it is ended.
            next_path: Where the code step continues to (kept server-side with it).

        Raises:
            StaffSignInRefused: Unknown email, wrong password, turned off, or locked.
            RateLimited: Too many failed tries for this email lately (nothing is checked).
        """
        now, account = self._now(), store.normal_email(email)
        self.limits.check("sign_in", "account", account)
        with self.engine.connect() as conn:
            staff = store.staff_by_email(conn, email)
            locked = staff is not None and store.locked_until(conn, staff.id, now=now) is not None
        ok = self._verify(staff.password_hash if staff else self._dummy_hash, password)
        if not ok or staff is None or locked or not staff.active:
            self.limits.failed("sign_in", "account", account)
        if staff is None:
            _log.info("staff.sign_in_refused", reason="unknown_email")
            raise StaffSignInRefused()
        if not ok or locked or not staff.active:
            if not ok and not locked:  # a try during a lock never extends it
                with self.engine.begin() as conn:
                    self._count_failure(conn, staff.id, now)
            reason = "locked" if locked else ("inactive" if not staff.active else "bad_password")
            _log.info("staff.sign_in_refused", staff_id=staff.id, reason=reason)
            raise StaffSignInRefused()
        with self.engine.begin() as conn:
            if self.hasher.check_needs_rehash(staff.password_hash):
                store.set_password_hash(conn, staff.id, self.hasher.hash(password))
            if store_signin.totp_ciphertext(conn, staff.id) is not None:
                # The failure count is cleared only when the code is right too.
                step = secrets.token_urlsafe(32)
                store_signin.create_code_step(
                    conn,
                    token_hash=store_web.digest(step),
                    staff_id=staff.id,
                    next_path=next_path,
                    expires_at=now + CODE_STEP_LIFETIME,
                )
                _log.info("staff.code_asked", staff_id=staff.id)
                return CodeNeeded(step)
        return self._start_session(staff, previous_session, now=now)

    def _start_session(
        self, staff: store.StaffAccount, previous_session: str | None, *, now: datetime
    ) -> StaffSignedIn:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            store.clear_failures(conn, staff.id)
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

    def code_step_next(self, step_token: str | None) -> str | None:
        """Where a live code step continues to; None when there is no such step."""
        if not step_token:
            return None
        with self.engine.begin() as conn:
            found = store_signin.code_step(conn, store_web.digest(step_token), now=self._now())
        return None if found is None else found[1]

    def sign_in_code(
        self, step_token: str | None, code: str, *, previous_session: str | None = None
    ) -> tuple[StaffSignedIn, str]:
        """Finish a sign-in with the TOTP code; returns the session and where to go next.

        Raises:
            StaffCodeRefused: No live code step, a wrong or reused code, or a locked account.
                A wrong code counts toward the lockout like a wrong password.
            RateLimited: Too many failed tries for this account lately.
        """
        now = self._now()
        if not step_token:
            raise StaffCodeRefused()
        step_hash = store_web.digest(step_token)
        with self.engine.begin() as conn:
            found = store_signin.code_step(conn, step_hash, now=now)
            staff = store.staff_by_id(conn, found[0]) if found else None
            cipher = store_signin.totp_ciphertext(conn, staff.id) if staff else None
            locked = staff is not None and store.locked_until(conn, staff.id, now=now)
        if found is None or staff is None or cipher is None or not staff.active or locked:
            _log.info("staff.code_refused", reason="no_step_or_locked")
            raise StaffCodeRefused()
        self.limits.check("sign_in", "account", staff.email)
        step = matching_step(self.box.decrypt(cipher), code, self.clock())
        with self.engine.begin() as conn:
            accepted = step is not None and store_signin.use_totp_step(conn, staff.id, step)
            if accepted:
                store_signin.end_code_step(conn, step_hash)
            else:
                # Committed before refusing: a failure must count even though we raise.
                if self._count_failure(conn, staff.id, now) >= MAX_FAILURES:
                    store_signin.end_code_steps_of(conn, staff.id)
        if not accepted:
            self.limits.failed("sign_in", "account", staff.email)
            reason = "bad_code" if step is None else "replayed_code"
            _log.info("staff.code_refused", staff_id=staff.id, reason=reason)
            raise StaffCodeRefused()
        return self._start_session(staff, previous_session, now=now), found[1]

    # TOTP enrolment --------------------------------------------------------------------------
    @property
    def box(self) -> SecretBox:
        """The secret box that encrypts TOTP secrets (the same keys as source credentials)."""
        if self._box is None:
            self._box = SecretBox(self.settings.encryption_keys())
        return self._box

    def begin_totp(self, viewer: StaffViewer) -> TotpEnrolment:
        """The secret being set up for the signed-in person: the one kept (encrypted) since the
        page was first opened, so reloading it or a second tab shows the same one, or a new one.

        Raises:
            TotpRefused: TOTP is on already (reset it first), or the rights come from ClassLink.
        """
        self._own_account(viewer)
        with self.engine.begin() as conn:
            if store_signin.totp_ciphertext(conn, viewer.id) is not None:
                raise TotpRefused(
                    "two-step sign-in is on already; to move it to a new phone, ask vendor "
                    "staff to reset it (`rostersync staff reset-totp <email>`), then set it up "
                    "again"
                )
            pending = store_signin.pending_totp(conn, viewer.id)
            secret = self.box.decrypt(pending) if pending else new_totp_secret()
            if pending is None:
                store_signin.set_pending_totp(conn, viewer.id, self.box.encrypt(secret))
        return TotpEnrolment(secret, otpauth_uri(secret, viewer.email))

    def confirm_totp(self, viewer: StaffViewer, code: str) -> None:
        """Turn TOTP on once the person proves their app shows the right code (audited).

        Raises:
            TotpRefused: Nothing is being set up, or the code does not match.
            RateLimited: Too many wrong codes for this account lately.
        """
        self._own_account(viewer)
        self.limits.check("totp", "account", viewer.id)
        with self.engine.connect() as conn:
            pending = store_signin.pending_totp(conn, viewer.id)
        if pending is None:
            raise TotpRefused("start again: open the two-step sign-in page to get a new secret")
        step = matching_step(self.box.decrypt(pending), code, self.clock())
        if step is None:
            self.limits.failed("totp", "account", viewer.id)
            raise TotpRefused(
                "that code does not match the secret; check the phone's time is set "
                "automatically and type the code your app shows now"
            )
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            store_signin.turn_on_totp(conn, viewer.id, pending, step=step)
            store_signin.record_staff_change(
                conn,
                staff_id=viewer.id,
                district_id=viewer.district_id,
                actor=viewer.actor,
                action="totp_on",
                now=now,
                changes={"fields": ["totp"]},
            )
        _log.info("staff.totp_on", staff_id=viewer.id)

    def reset_totp(self, email: str, *, actor: str) -> str:
        """Turn TOTP off for a locked-out person and unlock them (audited); returns the id.

        Raises:
            NotFoundError: No staff account with this email.
        """
        from rostersync.errors import NotFoundError

        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            staff = store.staff_by_email(conn, email)
            if staff is None:
                raise NotFoundError(
                    "no staff account has this email; list accounts with the admin pages or "
                    "check the spelling"
                )
            had = store_signin.turn_off_totp(conn, staff.id)
            store_signin.end_code_steps_of(conn, staff.id)
            store.clear_failures(conn, staff.id)
            store_signin.record_staff_change(
                conn,
                staff_id=staff.id,
                district_id=staff.district_id,
                actor=actor,
                action="totp_reset",
                now=now,
                changes={"fields": ["totp", "lockout"], "had_totp": had},
            )
        _log.info("staff.totp_reset", staff_id=staff.id)
        return staff.id

    @staticmethod
    def _own_account(viewer: StaffViewer) -> None:
        if viewer.through_classlink:
            raise TotpRefused(
                "you signed in through ClassLink, which has its own sign-in checks; two-step "
                "sign-in is for staff accounts with a password"
            )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _count_failure(self, conn: Any, staff_id: str, now: datetime) -> int:
        return store_signin.count_failure(
            conn, staff_id, now=now, limit=MAX_FAILURES, lock_for=self.lock_for
        )

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
            if session is None:
                return None
            granted = None
            if session.person_kind == "staff":
                staff = store.staff_by_id(conn, session.person_id)
            elif session.person_kind == "educator":
                granted = store_signin.granted_staff(conn, store_web.digest(token))
                staff = store.staff_by_id(conn, granted[0]) if granted else None
            else:
                return None
            totp_on = staff is not None and store_signin.totp_ciphertext(conn, staff.id) is not None
        if staff is None or not staff.active:
            return None
        if granted is not None and not (
            staff.role == "data_manager" and staff.district_id == granted[1] == session.district_id
        ):
            return None  # rights through ClassLink are only ever a data manager's, in one district
        return self._viewer(
            staff, session.csrf_token, totp_on=totp_on, through_classlink=granted is not None
        )

    @staticmethod
    def _viewer(
        staff: store.StaffAccount,
        csrf: str,
        *,
        totp_on: bool = False,
        through_classlink: bool = False,
    ) -> StaffViewer:
        return StaffViewer(
            id=staff.id,
            email=staff.email,
            display_name=staff.display_name,
            role=staff.role,
            district_id=staff.district_id,
            csrf_token=csrf,
            totp_on=totp_on,
            through_classlink=through_classlink,
        )


__all__ = ["StaffAuth"]
