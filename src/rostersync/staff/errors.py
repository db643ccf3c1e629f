"""What staff sign-in, invitations and two-step enrolment refuse with (one message per cause)."""

from __future__ import annotations

from rostersync.errors import RosterSyncError


class StaffSignInRefused(RosterSyncError):
    """The email and password did not sign anyone in (one message for every cause)."""

    def __init__(self) -> None:
        super().__init__(
            "That email and password did not match an active staff account. Check them and try "
            "again; after several failed attempts an account is locked for 15 minutes."
        )


class StaffCodeRefused(StaffSignInRefused):
    """The TOTP code was wrong, used already, or the code step expired."""

    def __init__(self) -> None:
        RosterSyncError.__init__(
            self,
            "That code did not sign you in. Type the 6-digit code your authenticator app shows "
            "now (each code works once); after several failed attempts the account is locked "
            "for 15 minutes.",
        )


class InvitationRefused(RosterSyncError):
    """An invitation link that cannot be used: unknown or altered, expired, or used already."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TotpRefused(RosterSyncError):
    """A TOTP enrolment that cannot be confirmed: wrong code, or nothing being enrolled."""


__all__ = ["InvitationRefused", "StaffCodeRefused", "StaffSignInRefused", "TotpRefused"]
