"""Invitations: how vendor staff bring in a district's data manager.

An invitation is a random link token, stored hashed, for one email and one district; it lasts
7 days and is used once, and using it makes the `data_manager` account and signs the person in.
`StaffAuth` (staff.accounts) takes these methods from `Invitations`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import structlog
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.errors import ConfigError
from rostersync.staff.errors import InvitationRefused
from rostersync.staff.limits import RateLimits
from rostersync.staff.models import InvitationDetails, StaffSignedIn
from rostersync.staff.policy import INVITATION_LIFETIME, check_password
from rostersync.store import admin as store
from rostersync.store import districts as store_districts
from rostersync.store import signin as store_signin
from rostersync.store import web as store_web

_log = structlog.get_logger(__name__)


class Invitations:
    """The invitation steps of `StaffAuth`, over its engine, settings, hasher and limits."""

    engine: Engine
    settings: Settings
    hasher: PasswordHasher
    limits: RateLimits

    def _start_session(
        self, staff: store.StaffAccount, previous_session: str | None, *, now: datetime
    ) -> StaffSignedIn:
        raise NotImplementedError

    # Invitations -----------------------------------------------------------------------------
    def invite(
        self, *, district: str, email: str, actor: str, sender: Any = None
    ) -> tuple[str, bool]:
        """Invite a data manager for a district: store the link's hash, email the link.

        Args:
            district: Slug or id.
            email: Where the link goes; it becomes the account's sign-in email.
            actor: Who invites (vendor staff), for the audit log.
            sender: A notify sender; the configured one (outbox or SMTP) by default.

        Returns:
            (invitation id, whether the email was sent).

        Raises:
            ConfigError: Not an email address, or the email has a staff account already.
            NotFoundError: No such district.
        """
        from rostersync.notify.emails import compose, render
        from rostersync.notify.senders import deliver, sender_for

        address = store.normal_email(email)
        if "@" not in address or " " in address or len(address) > 320:
            raise ConfigError(f"{email!r} is not an email address; give the person's work email")
        token, now = secrets.token_urlsafe(32), datetime.now(UTC)
        with self.engine.begin() as conn:
            found = store_districts.get_district(conn, district)
            if store.staff_by_email(conn, address) is not None:
                raise ConfigError(
                    "this email has a staff account already; they can sign in at /staff/login "
                    "(reset a lost second step with `rostersync staff reset-totp`)"
                )
            invitation_id = store_signin.create_invitation(
                conn,
                token_hash=store_web.digest(token),
                district_id=found.id,
                email=address,
                invited_by=actor,
                now=now,
                lifetime=INVITATION_LIFETIME,
            )
            store_signin.record_staff_change(
                conn,
                staff_id=invitation_id,
                district_id=found.id,
                actor=actor,
                action="staff_invited",
                now=now,
                entity_type="staff_invitation",
                changes={"role": "data_manager", "invitation": invitation_id},
            )
        link = f"{self.settings.portal_base_url.rstrip('/')}/staff/invitation/{token}"
        context = {
            "district": {"name": found.display_name or found.name},
            "link": link,
            "expires": (now + INVITATION_LIFETIME).strftime("%Y-%m-%d %H:%M UTC"),
        }
        message: EmailMessage = compose(
            render("staff_invitation", context, to=[address]), mail_from=self.settings.mail_from
        )
        sent = deliver(sender or sender_for(self.settings), message, attempts=2, delay=0.5)
        _log.info("staff.invited", invitation=invitation_id, district=found.id, sent=sent)
        return invitation_id, sent

    def invitation(self, token: str) -> InvitationDetails:
        """The invitation behind a link, if it can still be used.

        Raises:
            InvitationRefused: Unknown or altered, expired, or used already.
        """
        with self.engine.connect() as conn:
            found = self._usable(conn, token, datetime.now(UTC))
            district = store_districts.get_district(conn, found.district_id)
        return InvitationDetails(
            email=found.email,
            district_name=district.display_name or district.name,
            expires_at=found.expires_at,
        )

    def accept_invitation(
        self,
        token: str,
        *,
        display_name: str,
        password: str,
        password_again: str,
        previous_session: str | None = None,
    ) -> StaffSignedIn:
        """Use an invitation: check the password, make the data-manager account, sign in.

        Raises:
            InvitationRefused: The link cannot be used (nothing is created).
            ConfigError: The passwords differ or are too weak, or no name (nothing is created).
            RateLimited: Too many refused tries with this invitation lately.
        """
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            found = self._usable(conn, token, now)
        self.limits.check("invitation", "account", found.id)
        try:
            if not display_name.strip():
                raise ConfigError("give your name, as your colleagues know you")
            if password != password_again:
                raise ConfigError("the two passwords differ; type the same password twice")
            check_password(password, found.email)
        except ConfigError:
            self.limits.failed("invitation", "account", found.id)
            raise
        password_hash = self.hasher.hash(password)
        with self.engine.begin() as conn:
            staff_id = store.create_staff(
                conn,
                email=found.email,
                display_name=display_name[:255],
                role="data_manager",
                district_id=found.district_id,
                password_hash=password_hash,
                now=now,
            )
            if not store_signin.use_invitation(conn, found.id, staff_id=staff_id, now=now):
                raise _used()  # the transaction rolls back: no account from a used link
            store_signin.record_staff_change(
                conn,
                staff_id=staff_id,
                district_id=found.district_id,
                actor=f"invitation:{found.id}",
                action="staff_created",
                now=now,
                changes={"role": "data_manager", "via": "invitation"},
            )
            staff = store.staff_by_id(conn, staff_id)
        assert staff is not None
        _log.info("staff.invitation_accepted", staff_id=staff_id, district=found.district_id)
        return self._start_session(staff, previous_session, now=now)

    @staticmethod
    def _usable(conn: Any, token: str, now: datetime) -> store_signin.Invitation:
        found = store_signin.invitation_by_token(conn, store_web.digest(token)) if token else None
        if found is None:
            raise InvitationRefused(
                "This invitation link is not valid. Check that you opened the whole link from "
                "the email; if it still fails, ask the person who invited you to send a new one.",
                reason="unknown",
            )
        if found.accepted_at is not None:
            raise _used()
        if found.expires_at <= now:
            raise InvitationRefused(
                "This invitation link has expired (links work for 7 days). Ask the person who "
                "invited you to send a new one.",
                reason="expired",
            )
        return found


def _used() -> InvitationRefused:
    return InvitationRefused(
        "This invitation link was used already. If that was you, sign in at the staff sign-in "
        "page; if not, tell the person who invited you at once.",
        reason="used",
    )


__all__ = ["Invitations"]
