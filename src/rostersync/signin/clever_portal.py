"""Signing in with Clever, beside ClassLink: the same login states, code records and sessions.

A district whose roster comes from Clever (its integration's kind is "clever", its Clever district
id sealed as the key) signs its people in through the vendor's Clever app; every other live
district through ClassLink (`portal.Portal`). Decision 0042 says why the flow looks like this:

    begin   live Clever district chosen → state (single use, server-side, with the district,
            nonce, the Clever OAuth URL as the expected issuer, next path and the browser's
            binding) → Clever's /oauth/authorize with `district_id=<its Clever district id>`
    finish  the state is consumed once and must be this browser's and Clever's; a code with no
            state we issued (a Clever Portal launch, a refreshed or forged callback) restarts the
            login instead of being exchanged; the code is claimed once (`used_codes`), exchanged,
            and the person read from the id_token or /v3.0/me; their Clever district must be the
            chosen district's (or, for a restarted login, picks the one live Clever district
            that has it); the account is found by (district, Clever user id) only; a new session
            replaces the browser's old one
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Connection, Engine

from rostersync.config import Settings
from rostersync.signin.clever import CleverRelyingParty, CleverUser
from rostersync.signin.oidc import SignInRefused
from rostersync.signin.paths import safe_next_path
from rostersync.signin.portal import (
    CODE_MEMORY,
    LOGIN_LIFETIME,
    Restart,
    SignedIn,
    claim_code_once,
    open_session,
    refused_district,
    rostered_account,
    traced,
)
from rostersync.store import clever_sign_in as clever_store
from rostersync.store import web as store
from rostersync.store.db import for_writing
from rostersync.store.secrets import SecretBox

CLEVER_KIND = "clever"  # the integration kind of a district read from Clever (providers.clever)
CLEVER_CALLBACK_PATH = "/oauth/clever/callback"

_log = structlog.get_logger(__name__)


def _unknown_district() -> SignInRefused:
    return SignInRefused(
        "Your Clever district has not been set up in the Educator Portal yet, or is not open for "
        "sign-in. Ask your school's technology contact to get in touch with us.",
        reason="clever_unknown_district",
        title="Your district isn't set up yet",
    )


class CleverSignIn:
    """Clever sign-in over one database and the vendor's Clever app.

    Args:
        engine: The portal database.
        settings: The Clever app's settings, the portal's address and the sessions' lifetime.
        box: Opens the districts' sealed keys (their Clever district ids).
        relying_party: Use this relying party instead of one built from `settings` (tests).
        sweep_due: Whether expired login states are due a sweep: the ClassLink sign-in's
            schedule (`Portal.sweep_due`), since both sign-ins keep their logins in the same
            tables; without it, Clever's logins leave the sweeping to ClassLink's.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        box: SecretBox,
        relying_party: CleverRelyingParty | None = None,
        *,
        sweep_due: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        self._writer = for_writing(engine)
        self.settings = settings
        self._box = box
        self._rp = relying_party
        self._sweep_due = sweep_due or (lambda: False)

    @property
    def relying_party(self) -> CleverRelyingParty:
        """The Clever relying party, built on first use (so an unset app fails only a Clever
        sign-in, with `ConfigError`)."""
        if self._rp is None:
            self._rp = CleverRelyingParty(
                oauth_url=self.settings.clever_oauth_url,
                api_url=self.settings.clever_api_url,
                client_id=self.settings.clever_client_id,
                client_secret=self.settings.clever_client_secret,
                redirect_uri=self.redirect_uri,
                timeout=self.settings.sso_timeout_seconds,
            )
        return self._rp

    @property
    def redirect_uri(self) -> str:
        """Our Clever callback: configuration, never the request's `Host`."""
        return self.settings.portal_base_url.rstrip("/") + CLEVER_CALLBACK_PATH

    def close(self) -> None:
        """Close the relying party's connections; a later sign-in builds a new one."""
        if self._rp is not None:
            self._rp.close()
            self._rp = None

    # The login page ----------------------------------------------------------------------------
    def live_district_ids(self) -> frozenset[str]:
        """Our ids of the live districts that sign in through Clever (the login page's labels)."""
        with self.engine.connect() as conn:
            found = clever_store.districts_of_kind(conn, CLEVER_KIND)
        return frozenset(d.id for d in found if d.status == "live")

    def signs_in(self, district_id: str) -> bool:
        """Whether this district (live or not) signs its people in through Clever."""
        with self.engine.connect() as conn:
            found = clever_store.districts_of_kind(conn, CLEVER_KIND)
        return any(d.id == district_id for d in found)

    # Signing in --------------------------------------------------------------------------------
    def begin_sign_in(self, *, district_id: str | None, binding: str, next_path: str = "/") -> str:
        """Start a Clever login; returns the URL to send the browser to.

        Args:
            district_id: Our id of the district chosen on the login page; None when restarting
                a Clever Portal launch, where the person's Clever district picks the district.
            binding: The browser's login-binding cookie value; the callback must present it.
            next_path: Where to go after signing in; anything but a local path becomes "/".

        Raises:
            SignInRefused: The district is unknown, not live, or not read from Clever.
            ConfigError: The vendor's Clever app is not set up.
        """
        rp = self.relying_party
        now = datetime.now(UTC)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        clever_district: str | None = None
        with self._writer.begin() as conn:
            if district_id is not None:
                district = self._chosen(conn, district_id)
                clever_district = clever_store.provider_district_id(conn, self._box, district.id)
                if clever_district is None:
                    raise refused_district(district.id)
            store.save_login_state(
                conn,
                state=state,
                district_id=district_id,
                binding=binding,
                issuer=rp.issuer,
                nonce=nonce,
                code_verifier="",  # Clever takes no PKCE; the nonce binds the code instead
                next_path=safe_next_path(next_path),
                now=now,
                lifetime=LOGIN_LIFETIME,
            )
            if self._sweep_due():
                store.forget_stale(conn, now=now, keep_codes=CODE_MEMORY)
        return rp.authorization_url(state=state, nonce=nonce, district=clever_district)

    def finish_sign_in(
        self,
        *,
        code: str,
        state: str | None,
        binding: str,
        previous_session: str | None = None,
    ) -> SignedIn | Restart:
        """Complete a login from Clever's callback.

        Returns:
            `SignedIn`, or `Restart` when the callback is not bound to a Clever login this
            browser started (a Clever Portal launch, a refreshed or forged callback): its code
            is never used.

        Raises:
            SignInRefused: The login failed; the message says what the person can do.
            ConfigError: The vendor's Clever app is not set up.
        """
        rp = self.relying_party
        now = datetime.now(UTC)
        with self._writer.begin() as conn:
            login = store.take_login_state(conn, state, now=now) if state else None
            bound = (
                login is not None
                and bool(binding)
                and hmac.compare_digest(login.binding_hash, store.digest(binding))
                and login.issuer == rp.issuer
            )
            if login is None or not bound:
                login = None
            else:
                claim_code_once(conn, code, now=now, district_id=login.district_id)
        if login is None:
            # Unsolicited: restart with our own state and nonce. Clever answers at once for a
            # person signed in to Clever, so a Clever Portal launch lands signed in.
            _log.info("sign-in restarted", provider="clever", reason="unbound_callback")
            return Restart(self.begin_sign_in(district_id=None, binding=binding, next_path="/"))
        try:
            user = rp.sign_in(
                code, nonce=login.nonce, login_started_at=login.created_at.timestamp()
            )
        except SignInRefused as exc:
            traced(exc, login.district_id)
            raise
        with self._writer.begin() as conn:
            try:
                account = self._account(conn, login.district_id, user)
            except SignInRefused as exc:
                traced(exc, exc.district_id or login.district_id, user.user_id)
                raise
            token = open_session(
                conn, account, settings=self.settings, previous_session=previous_session, now=now
            )
        _log.info(
            "signed in",
            provider="clever",
            via=user.via,
            kind=account.kind,
            district=account.district_id,
        )
        return SignedIn(session_token=token, next_path=login.next_path, kind=account.kind)

    # Districts and accounts --------------------------------------------------------------------
    def _chosen(self, conn: Connection, district_id: str) -> store.SignInDistrict:
        """The chosen district, if it is live and read from Clever; else the district refusal."""
        for district in clever_store.districts_of_kind(conn, CLEVER_KIND):
            if district.id == district_id:
                if district.status != "live":
                    raise refused_district(district.id)
                return district
        raise refused_district()

    def _by_clever_id(self, conn: Connection, clever_district: str) -> store.SignInDistrict | None:
        """The Clever district whose stored Clever district id is this one (live first)."""
        wanted = clever_district.casefold()
        found = [
            d
            for d in clever_store.districts_of_kind(conn, CLEVER_KIND)
            if (clever_store.provider_district_id(conn, self._box, d.id) or "").casefold() == wanted
        ]
        found.sort(key=lambda d: d.status != "live")
        return found[0] if found else None

    def _account(
        self, conn: Connection, district_id: str | None, user: CleverUser
    ) -> store.Account:
        if district_id is None:
            district = self._by_clever_id(conn, user.district)
            if district is None:
                raise _unknown_district()
            if district.status != "live":
                raise refused_district(district.id)
        else:
            district = self._chosen(conn, district_id)
            stored = clever_store.provider_district_id(conn, self._box, district.id)
            if stored is None or stored.casefold() != user.district.casefold():
                refusal = SignInRefused(
                    f"You signed in to Clever with an account from another district than "
                    f"{district.display_name}. Go back to the login page and choose your own "
                    "district, or sign out of Clever and sign in with your account from this "
                    "one.",
                    reason="clever_district_mismatch",
                    title="That Clever account belongs to another district",
                )
                refusal.district_id = district.id
                raise refusal
        try:
            return rostered_account(conn, district, user.user_id)
        except SignInRefused as exc:
            exc.district_id = district.id
            raise
