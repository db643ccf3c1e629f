"""What staff sign-in answers with: the viewer, a code step, an enrolment, an invitation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CodeNeeded:
    """The password was right and the account uses TOTP: ask for a code next.

    `token` goes in a short-lived cookie and identifies this halfway sign-in.
    """

    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A TOTP secret shown once, as text and as an otpauth:// URI, waiting for a code."""

    secret: str = field(repr=False)
    uri: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class InvitationDetails:
    """What the accept page shows about a usable invitation."""

    email: str
    district_name: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StaffViewer:
    """The staff member a session belongs to."""

    id: str
    email: str
    display_name: str
    role: str
    district_id: str | None
    csrf_token: str = field(repr=False)
    totp_on: bool = False
    # True when the rights come with a ClassLink sign-in rather than a staff password.
    through_classlink: bool = False

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


__all__ = ["CodeNeeded", "InvitationDetails", "StaffSignedIn", "StaffViewer", "TotpEnrolment"]
