"""Personal API tokens: how vendor staff and data managers call the JSON API without a browser.

A token is `rs_` and 43 random URL-safe characters (256 bits), made for one staff account with a
label its owner chooses. It is shown once, when made; the database keeps only its SHA-256 (a
copy of the database cannot call the API) and its first characters (`prefix`), so the owner can
tell their tokens apart. Its owner lists and revokes their own tokens; a revoked token is never
accepted again.

A token carries no rights of its own: each call is the account's, with the account's role and
district as they are at that moment (`StaffViewer.can_see` scopes it, exactly like a session),
and an account turned off stops its tokens with it. Rights that come with a ClassLink sign-in
last only as long as that session, so such a session cannot make a token.

`authenticate` refuses an unknown, malformed or revoked token, or one whose account is off,
with `ApiTokenRefused`: one message for every cause, and a reference and reason code that the
web layer logs (`refusals.record_refusal`). The last use is written at most once a minute per
token, so a busy script does not write on every call. Making and revoking are audited.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.engine import Connection, Engine

from rostersync.errors import ConfigError, NotFoundError, RosterSyncError
from rostersync.refusals import new_reference
from rostersync.staff.models import StaffViewer
from rostersync.staff.policy import NO_PASSWORD
from rostersync.store import admin as store_admin
from rostersync.store import api_tokens as store
from rostersync.store import signin as store_signin
from rostersync.store import web as store_web
from rostersync.store.api_tokens_tables import LABEL

_log = structlog.get_logger(__name__)

TOKEN_PREFIX = "rs_"  # noqa: S105 - how every token begins, not a secret
SECRET_BYTES = 32  # 43 URL-safe characters
SHOWN = len(TOKEN_PREFIX) + 8  # "rs_" and the secret's first 8 characters, kept and shown
TOKEN_PATTERN = re.compile(r"rs_[A-Za-z0-9_-]{43}")
MAX_ACTIVE = 20  # tokens per person not yet revoked
TOUCH_EVERY = timedelta(minutes=1)  # the last use is written at most this often per token


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """A token as its owner's list shows it: never the token itself."""

    id: str
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class NewApiToken:
    """A token just made: `secret` is the whole token, shown this once and kept nowhere."""

    token: ApiToken
    secret: str = field(repr=False)


class ApiTokenRefused(RosterSyncError):
    """A bearer token that does not sign anyone in (one message for every cause).

    Attributes:
        reason: "api_token_unknown" (not one of ours, or malformed), "api_token_revoked" or
            "api_token_account_off", for the log and the refusal counter.
        reference: This refusal's own reference, sent to the caller and logged with it.
        district_id: The account's district, when the token was ours and it has one.
        subject: The account's id, when the token was ours (logged only as a keyed hash).
    """

    def __init__(
        self, reason: str, *, district_id: str | None = None, subject: str | None = None
    ) -> None:
        self.reference = new_reference()
        super().__init__(
            "this API token is not valid: it was revoked, or it is not a token of this portal. "
            f"Make a new one at /admin/api-tokens (reference {self.reference})"
        )
        self.reason = reason
        self.district_id = district_id
        self.subject = subject


def token_hash(secret: str) -> str:
    """The SHA-256 under which a token is stored (the same digest as session tokens)."""
    return store_web.digest(secret)


def _public(row: store.ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        label=row.label,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class ApiTokens:
    """Personal API tokens over one database.

    Args:
        engine: The portal database.
        clock: The time now (timezone-aware); tests move it to see the last use written.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def create(self, viewer: StaffViewer, label: str) -> NewApiToken:
        """Make a token for the signed-in staff member (audited); its secret is returned once.

        Raises:
            ConfigError: No label or too long a label, too many tokens, or rights that came
                with a ClassLink sign-in (they end with that session).
        """
        if viewer.through_classlink:
            raise ConfigError(
                "you signed in through ClassLink, whose rights end with this session; API "
                "tokens are for staff accounts with a password"
            )
        return self._create(viewer.id, viewer.district_id, label, actor=viewer.actor)

    def create_for(self, email: str, label: str, *, actor: str) -> NewApiToken:
        """Make a token for the staff account with this email (the CLI's, for vendor staff who
        run it on the server); audited under `actor`, its secret returned once.

        Raises:
            NotFoundError: No active staff account with a password has this email.
            ConfigError: No label or too long a label, or too many tokens.
        """
        with self.engine.connect() as conn:
            staff = store_admin.staff_by_email(conn, email)
        if staff is None or not staff.active or staff.password_hash == NO_PASSWORD:
            raise NotFoundError(
                f"no active staff account with a password has the email {email!r}; check the "
                "spelling (a person who signs in only through ClassLink cannot have API tokens)"
            )
        return self._create(staff.id, staff.district_id, label, actor=actor)

    def _create(
        self, staff_id: str, district_id: str | None, label: str, *, actor: str
    ) -> NewApiToken:
        name = " ".join(label.split())
        if not name or len(name) > LABEL:
            raise ConfigError(
                f"give the token a label of at most {LABEL} characters that says where it is "
                'used, such as "nightly export script"'
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
        now = self.clock()
        with self.engine.begin() as conn:
            if store.count_active(conn, staff_id) >= MAX_ACTIVE:
                raise ConfigError(
                    f"this account has {MAX_ACTIVE} tokens already; revoke one it no longer "
                    "uses first"
                )
            token_id = store.create_token(
                conn,
                staff_id=staff_id,
                label=name,
                token_hash=token_hash(secret),
                prefix=secret[:SHOWN],
                now=now,
            )
            self._audit(conn, staff_id, district_id, actor, "api_token_created", token_id, now)
            (row,) = [r for r in store.tokens_of(conn, staff_id) if r.id == token_id]
        _log.info("staff.api_token_created", staff_id=staff_id, token_id=token_id)
        return NewApiToken(_public(row), secret)

    def list_tokens(self, viewer: StaffViewer) -> list[ApiToken]:
        """The staff member's own tokens, newest first, revoked ones included."""
        with self.engine.connect() as conn:
            return [_public(row) for row in store.tokens_of(conn, viewer.id)]

    def list_for(self, email: str) -> list[ApiToken]:
        """The tokens of the staff account with this email, newest first (the CLI's).

        Raises:
            NotFoundError: No staff account has this email.
        """
        with self.engine.connect() as conn:
            staff = store_admin.staff_by_email(conn, email)
            if staff is None:
                raise NotFoundError(f"no staff account has the email {email!r}; check the spelling")
            return [_public(row) for row in store.tokens_of(conn, staff.id)]

    def revoke(self, viewer: StaffViewer, token_id: str) -> ApiToken:
        """Revoke one of the staff member's own tokens (audited); it is refused from now on.

        Raises:
            NotFoundError: They have no such token, or it was revoked already.
        """
        return self._revoke(token_id, owner=viewer.id, actor=viewer.actor)

    def revoke_any(self, token_id: str, *, actor: str) -> ApiToken:
        """Revoke anyone's token by its id (the CLI's, for a token that leaked); audited.

        Raises:
            NotFoundError: No such token, or it was revoked already.
        """
        return self._revoke(token_id, owner=None, actor=actor)

    def _revoke(self, token_id: str, *, owner: str | None, actor: str) -> ApiToken:
        now = self.clock()
        with self.engine.begin() as conn:
            row = store.revoke(conn, token_id=token_id, staff_id=owner, now=now)
            staff = store_admin.staff_by_id(conn, row.staff_id) if row else None
            if row is None or staff is None:
                raise NotFoundError(
                    f"there is no token {token_id!r}, or it was revoked already; the list "
                    "shows the tokens and their ids"
                )
            self._audit(conn, staff.id, staff.district_id, actor, "api_token_revoked", row.id, now)
        _log.info("staff.api_token_revoked", staff_id=staff.id, token_id=row.id)
        return ApiToken(
            id=row.id,
            label=row.label,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=now,
        )

    @staticmethod
    def _audit(
        conn: Connection,
        staff_id: str,
        district_id: str | None,
        actor: str,
        action: str,
        token_id: str,
        now: datetime,
    ) -> None:
        """A change to an account's tokens in the staff audit (and the district's audit log):
        which token, never the token itself."""
        store_signin.record_staff_change(
            conn,
            staff_id=staff_id,
            district_id=district_id,
            actor=actor,
            action=action,
            now=now,
            changes={"fields": ["api_token"], "token": token_id},
        )

    def authenticate(self, secret: str) -> StaffViewer:
        """The staff member a bearer token belongs to, with their role and district now.

        The viewer's `csrf_token` is empty: a token is sent by a program, not carried by a
        browser, so there is no session whose forms a token could protect.

        Raises:
            ApiTokenRefused: Unknown or malformed, revoked, or the account is turned off.
        """
        if not TOKEN_PATTERN.fullmatch(secret):
            raise ApiTokenRefused("api_token_unknown")
        wanted = token_hash(secret)
        with self.engine.connect() as conn:
            row = store.token_by_hash(conn, wanted)
            staff = store_admin.staff_by_id(conn, row.staff_id) if row else None
        if row is None or staff is None or not hmac.compare_digest(row.token_hash, wanted):
            raise ApiTokenRefused("api_token_unknown")
        if row.revoked_at is not None:
            raise ApiTokenRefused(
                "api_token_revoked", district_id=staff.district_id, subject=staff.id
            )
        if not staff.active:
            raise ApiTokenRefused(
                "api_token_account_off", district_id=staff.district_id, subject=staff.id
            )
        now = self.clock()
        if row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY:
            with self.engine.begin() as conn:
                store.touch(conn, row.id, now=now, older_than=now - TOUCH_EVERY)
        return StaffViewer(
            id=staff.id,
            email=staff.email,
            display_name=staff.display_name,
            role=staff.role,
            district_id=staff.district_id,
            csrf_token="",
        )


__all__ = [
    "MAX_ACTIVE",
    "TOKEN_PREFIX",
    "TOUCH_EVERY",
    "ApiToken",
    "ApiTokenRefused",
    "ApiTokens",
    "NewApiToken",
    "token_hash",
]
