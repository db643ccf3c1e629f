"""Signing in with ClassLink and what a signed-in student or educator sees, over one database.

`Services` (the one service API) delegates its web methods here; the FastAPI routes only call the
service. The flow, and why each step is there, is in docs/decisions/0008-sign-in.md:

    begin_sign_in   live district chosen → state (single use, kept server-side with the district,
                    nonce, PKCE verifier, next path and the browser's binding) → ClassLink URL
    finish_sign_in  state consumed once; a code with no state we issued (LaunchPad) or a spent
                    state restarts the login instead; the code is claimed once, exchanged,
                    verified; the tenant must be the district's; the account is found by
                    (district, sourcedId) only; a new session replaces the browser's old one
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.engine import Connection, Engine

from rostersync.config import Settings
from rostersync.errors import ConfigError, NotFoundError
from rostersync.signin.oidc import DiscoveryError, RelyingParty, SignInRefused, protocol_failure
from rostersync.signin.paths import safe_next_path
from rostersync.staff.classlink import grant_data_manager_rights
from rostersync.store import educator_classes as rosters
from rostersync.store import web as store
from rostersync.store.db import for_writing

LOGIN_LIFETIME = timedelta(minutes=10)  # the code itself lives 5 minutes at ClassLink
CODE_MEMORY = timedelta(minutes=15)
# How often a process sweeps expired login states, sessions and old code records. Expiry is
# checked on every read (`take_login_state`, `get_session`), so the sweep only keeps the tables
# small: once a minute, not three DELETEs on every login.
SWEEP_EVERY = timedelta(minutes=1)
CALLBACK_PATH = "/oauth/callback"

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A completed sign-in: the new session's cookie token and where to go next."""

    session_token: str = field(repr=False)
    next_path: str
    kind: str


@dataclass(frozen=True, slots=True)
class Restart:
    """The callback could not be bound to a login we started: send the browser here instead."""

    url: str


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person a session belongs to."""

    kind: str
    id: str
    district_id: str
    csrf_token: str = field(repr=False)
    person: store.Person


@dataclass(frozen=True, slots=True)
class ClassWithStudents:
    """One of an educator's classes, with its students and their eligibility."""

    cls: store.ClassRow
    students: list[rosters.RosterStudent]

    @property
    def to_confirm(self) -> int:
        """How many of its students' eligibility is not yet confirmed."""
        return sum(1 for s in self.students if not s.confirmed)

    @property
    def namesakes(self) -> frozenset[str]:
        """Ids of the students who share their name with another student of this class."""
        seen: dict[tuple[str, str], list[str]] = {}
        for s in self.students:
            key = (s.given_name.casefold().strip(), s.family_name.casefold().strip())
            seen.setdefault(key, []).append(s.student_id)
        return frozenset(i for ids in seen.values() if len(ids) > 1 for i in ids)


@dataclass(frozen=True, slots=True)
class ClassConfirmed:
    """What a class-wide confirmation did: the class, and how many students it changed."""

    class_id: str
    changed: int
    status: str


@dataclass(frozen=True, slots=True)
class Home:
    """What a signed-in student or educator sees on their home page."""

    viewer: Viewer
    classes: list[store.ClassRow]
    rosters: list[ClassWithStudents]
    can_confirm_eligibility: bool


def refused_district(district_id: str | None = None) -> SignInRefused:
    refusal = SignInRefused(
        "Your district does not use the Educator Portal yet, or is not open for sign-in. Pick "
        "your district again from the list; if it is not there, ask your school's technology "
        "contact when your district goes live.",
        reason="district_not_live",
        title="Your district isn't open for sign-in",
    )
    refusal.district_id = district_id
    return refusal


def traced(exc: SignInRefused, district_id: str | None, subject: str | None = None) -> None:
    """Note the district and the provider's subject on a refusal, for its log line."""
    exc.district_id = exc.district_id or district_id
    exc.subject = exc.subject or subject


def claim_code_once(conn: Connection, code: str, *, now: datetime, district_id: str | None) -> None:
    """Record that `code` is about to be exchanged; refuse it when it was seen before.

    Raises:
        SignInRefused: The code was claimed before (a refresh, the back button, a bookmark).
    """
    if not store.claim_code(conn, code, now=now):
        replayed = SignInRefused(
            "This sign-in link was already used. Go back to the login page and sign in again.",
            reason="code_replayed",
        )
        traced(replayed, district_id)
        raise replayed


def rostered_account(
    conn: Connection, district: store.SignInDistrict, sourced_id: str
) -> store.Account:
    """The active account rostered under `sourced_id` in this one district.

    Raises:
        SignInRefused: Nobody is rostered so, or their account is turned off.
    """
    account = store.find_account(conn, district.id, sourced_id)
    if account is None:
        raise SignInRefused(
            f"{district.display_name} has not given the Educator Portal an account for you "
            "yet. If you joined recently, try again tomorrow; otherwise ask your teacher or "
            "your district's data manager to check the roster.",
            reason="not_rostered",
            title="We couldn't find your account",
        )
    if not (account.active and account.enabled):
        raise SignInRefused(
            f"Your Educator Portal account in {district.display_name} is turned off. If you "
            "think that is a mistake, ask your district's data manager.",
            reason="deactivated",
            title="Your account is turned off",
        )
    return account


def open_session(
    conn: Connection,
    account: store.Account,
    *,
    settings: Settings,
    previous_session: str | None,
    now: datetime,
) -> str:
    """A new session for `account`, replacing the browser's previous one; its cookie token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    if previous_session:
        store.delete_session(conn, previous_session)
    store.create_session(
        conn,
        token=token,
        csrf_token=csrf,
        account=account,
        now=now,
        lifetime=timedelta(seconds=settings.session_max_age_seconds),
    )
    if account.kind == "educator":
        # A district's data manager signing in as its educator also gets /admin for that
        # district (the rule is in staff/accounts.py); never vendor staff rights.
        grant_data_manager_rights(
            conn,
            session_token=token,
            district_id=account.district_id,
            educator_id=account.id,
            now=now,
        )
    return token


class Portal:
    """The web feature's operations over one database and one ClassLink client.

    Args:
        engine: The portal database.
        settings: Where ClassLink is and how sessions behave.
        relying_party: Use this relying party instead of one built from `settings` (tests, demo).
    """

    def __init__(
        self, engine: Engine, settings: Settings, relying_party: RelyingParty | None = None
    ) -> None:
        self.engine = engine
        # Sign-in transactions read, then write: on SQLite they must take the lock up front.
        self._writer = for_writing(engine)
        self.settings = settings
        self._rp = relying_party
        self._next_sweep = float("-inf")  # time.monotonic() of the next sweep

    @property
    def relying_party(self) -> RelyingParty:
        if self._rp is None:
            self._rp = RelyingParty(
                issuer=self.settings.classlink_issuer,
                client_id=self.settings.classlink_client_id,
                client_secret=self.settings.classlink_client_secret,
                redirect_uri=self.redirect_uri,
                userinfo_url=self.settings.classlink_userinfo_url,
                timeout=self.settings.sso_timeout_seconds,
            )
        return self._rp

    def close(self) -> None:
        """Close the relying party's HTTP connections."""
        if self._rp is not None:
            self._rp.close()

    @property
    def redirect_uri(self) -> str:
        """The one registered redirect URI: configuration, never the request's `Host`."""
        return self.settings.portal_base_url.rstrip("/") + CALLBACK_PATH

    def live_districts(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return store.live_districts(conn)

    def sweep_due(self) -> bool:
        """True at most once per `SWEEP_EVERY` in this process (two threads racing both sweep:
        harmless). Clever's logins ask this schedule too: the same tables are swept once."""
        clock = time.monotonic()
        if clock < self._next_sweep:
            return False
        self._next_sweep = clock + SWEEP_EVERY.total_seconds()
        return True

    # Signing in --------------------------------------------------------------------------------
    def begin_sign_in(self, *, district_id: str | None, binding: str, next_path: str = "/") -> str:
        """Start a ClassLink login; returns the URL to send the browser to.

        Args:
            district_id: The district chosen on the login page; None when restarting a LaunchPad
                launch, where the token's tenant picks the (live) district.
            binding: The browser's login-binding cookie value; the callback must present it.
            next_path: Where to go after signing in; anything but a local path becomes "/".

        Raises:
            SignInRefused: The district is unknown or not live.
        """
        now = datetime.now(UTC)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        rp = self.relying_party
        with self._writer.begin() as conn:
            if district_id is not None:
                district = store.sign_in_district(conn, district_id)
                if district is None or district.status != "live":
                    raise refused_district(district.id if district else None)
            if self.sweep_due():
                store.forget_stale(conn, now=now, keep_codes=CODE_MEMORY)
            store.save_login_state(
                conn,
                state=state,
                district_id=district_id,
                binding=binding,
                issuer=rp.issuer,
                nonce=nonce,
                code_verifier=verifier,
                next_path=safe_next_path(next_path),
                now=now,
                lifetime=LOGIN_LIFETIME,
            )
        try:
            return rp.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
        except DiscoveryError as exc:
            refusal = protocol_failure(exc.reason)
            traced(refusal, district_id)
            raise refusal from None

    def finish_sign_in(
        self,
        *,
        code: str,
        state: str | None,
        binding: str,
        previous_session: str | None = None,
    ) -> SignedIn | Restart:
        """Complete a login from ClassLink's callback.

        Args:
            code: The authorization code.
            state: The state ClassLink echoed, if any.
            binding: The browser's login-binding cookie (a fresh value when it had none); a
                restarted login is bound to it.
            previous_session: The browser's current session token; replaced on success.

        Returns:
            `SignedIn`, or `Restart` when the callback is not bound to a login this browser
            started (a LaunchPad launch, a refreshed or forged callback): its code is never used.

        Raises:
            SignInRefused: The login failed; the message says what the person can do.
        """
        now = datetime.now(UTC)
        rp = self.relying_party
        with self._writer.begin() as conn:
            login = store.take_login_state(conn, state, now=now) if state else None
            bound = (
                login is not None
                and binding
                and hmac.compare_digest(login.binding_hash, store.digest(binding))
                and login.issuer == rp.issuer
            )
            if login is None or not bound:
                login = None
            else:
                claim_code_once(conn, code, now=now, district_id=login.district_id)
        if login is None:
            # Unsolicited: restart with our own state, nonce and PKCE. ClassLink answers at once
            # for a signed-in user, so a LaunchPad launch lands signed in.
            _log.info("sign-in restarted", reason="unbound_callback")
            return Restart(self.begin_sign_in(district_id=None, binding=binding, next_path="/"))
        try:
            user = rp.sign_in(
                code,
                code_verifier=login.code_verifier,
                nonce=login.nonce,
                login_started_at=login.created_at.timestamp(),
            )
        except SignInRefused as exc:
            traced(exc, login.district_id)
            raise
        except DiscoveryError as exc:
            refusal = protocol_failure(exc.reason)
            traced(refusal, login.district_id)
            raise refusal from None
        with self._writer.begin() as conn:
            try:
                account = self._account(conn, login.district_id, user.tenant_id, user.sourced_id)
            except SignInRefused as exc:
                by_tenant = (
                    None if login.district_id else store.district_for_tenant(conn, user.tenant_id)
                )
                traced(
                    exc, login.district_id or (by_tenant.id if by_tenant else None), user.subject
                )
                raise
            token = open_session(
                conn, account, settings=self.settings, previous_session=previous_session, now=now
            )
        _log.info("signed in", kind=account.kind, district=account.district_id)
        return SignedIn(session_token=token, next_path=login.next_path, kind=account.kind)

    def _account(
        self, conn: Any, district_id: str | None, tenant_id: str, sourced_id: str
    ) -> store.Account:
        if district_id is None:
            district = store.district_for_tenant(conn, tenant_id)
            if district is None:
                raise SignInRefused(
                    "Your district has not been set up in the Educator Portal yet. Ask your "
                    "school's technology contact to get in touch with us to start onboarding.",
                    reason="unknown_tenant",
                    title="Your district isn't set up yet",
                )
        else:
            district = store.sign_in_district(conn, district_id)
        if district is None or district.status != "live":
            raise refused_district()
        if district.classlink_tenant_id != tenant_id:
            raise SignInRefused(
                f"You signed in to ClassLink with an account from another district than "
                f"{district.display_name}. Go back to the login page and choose your own "
                "district, or sign out of ClassLink and sign in with your account from this one.",
                reason="tenant_mismatch",
                title="That ClassLink account belongs to another district",
            )
        return rostered_account(conn, district, sourced_id)

    # Sessions ----------------------------------------------------------------------------------
    def viewer(self, token: str | None) -> Viewer | None:
        """Who a session cookie belongs to, or None when it is missing, unknown or expired."""
        if not token:
            return None
        with self.engine.connect() as conn:
            found = store.session_person(conn, token, now=datetime.now(UTC))
        if found is None:
            return None
        session, person = found
        assert session.district_id is not None  # only a district's sessions are found
        return Viewer(
            kind=session.person_kind,
            id=session.person_id,
            district_id=session.district_id,
            csrf_token=session.csrf_token,
            person=person,
        )

    def sign_out(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as conn:
                store.delete_session(conn, token)

    # Home pages --------------------------------------------------------------------------------
    def home(self, viewer: Viewer) -> Home:
        """A student's classes, or an educator's classes with their students' eligibility."""
        with self.engine.connect() as conn:
            classes = store.classes_of(conn, viewer.kind, viewer.id)
            if viewer.kind != "educator":
                return Home(
                    viewer=viewer, classes=classes, rosters=[], can_confirm_eligibility=False
                )
            students = rosters.class_rosters(conn, viewer.district_id, [c.id for c in classes])
            source = store.eligibility_source(conn, viewer.district_id)
        by_class: dict[str, list[rosters.RosterStudent]] = {}
        for student in students:
            by_class.setdefault(student.class_id, []).append(student)
        return Home(
            viewer=viewer,
            classes=classes,
            rosters=[ClassWithStudents(c, by_class.get(c.id, [])) for c in classes],
            can_confirm_eligibility=source == "portal",
        )

    def confirm_eligibility(self, viewer: Viewer, student_id: str, status: str) -> None:
        """An educator confirms one of their students' eligibility (portal-sourced districts).

        Raises:
            NotFoundError: The viewer is not an educator of this student (no data is revealed).
            ConfigError: The district takes eligibility from ClassLink, or the status is unknown.
        """
        _check_status(status)
        with self.engine.begin() as conn:
            if viewer.kind != "educator" or not store.teaches_student(
                conn, viewer.district_id, viewer.id, student_id
            ):
                raise NotFoundError("no such student in your classes")
            _check_portal_sourced(conn, viewer.district_id)
            store.confirm_eligibility(
                conn,
                district_id=viewer.district_id,
                student_id=student_id,
                status=status,
                actor=f"educator:{viewer.id}",
                now=datetime.now(UTC),
            )

    def confirm_class_eligibility(
        self, viewer: Viewer, class_id: str, status: str
    ) -> ClassConfirmed:
        """An educator confirms every not yet confirmed student of one of their classes at once.

        The same rule and audit as `confirm_eligibility`, set-based: one query finds the
        class's students left to confirm, one bulk write sets them, one audit row each; a
        student already confirmed (also by a co-teacher meanwhile) is left as they are.

        Raises:
            NotFoundError: The viewer does not teach this class (no data is revealed).
            ConfigError: The district takes eligibility from ClassLink, or the status is unknown.
        """
        _check_status(status)
        with self._writer.begin() as conn:
            if viewer.kind != "educator" or not rosters.teaches_class(
                conn, viewer.district_id, viewer.id, class_id
            ):
                raise NotFoundError("no such class among yours")
            _check_portal_sourced(conn, viewer.district_id)
            found = rosters.unconfirmed_in_class(conn, viewer.district_id, viewer.id, class_id)
            changed = rosters.confirm_students(
                conn,
                district_id=viewer.district_id,
                found=found,
                status=status,
                actor=f"educator:{viewer.id}",
                now=datetime.now(UTC),
            )
        _log.info("class eligibility confirmed", district=viewer.district_id, changed=len(changed))
        return ClassConfirmed(class_id=class_id, changed=len(changed), status=status)


def _check_status(status: str) -> None:
    if status not in rosters.CONFIRMED:
        raise ConfigError("eligibility must be 'eligible' or 'not_eligible'")


def _check_portal_sourced(conn: Connection, district_id: str) -> None:
    if store.eligibility_source(conn, district_id) != "portal":
        raise ConfigError(
            "your district sends eligibility from ClassLink: change it there, and the next "
            "sync brings it here"
        )
