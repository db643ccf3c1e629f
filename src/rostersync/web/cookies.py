"""The names and attributes of the portal's cookies (web/app.py describes each one)."""

from __future__ import annotations

from starlette.responses import Response

from rostersync.config import Settings


class Cookies:
    """The names and attributes of the portal's cookies under one configuration."""

    def __init__(self, secure: bool, max_age: int) -> None:
        prefix = "__Host-" if secure else ""
        self.session = f"{prefix}rostersync_session"
        self.login = f"{prefix}rostersync_login"
        # The staff sign-in form's double-submit token, and the halfway (TOTP code) sign-in.
        self.staff_login = f"{prefix}rostersync_staff_login"
        self.staff_code = f"{prefix}rostersync_staff_code"
        self.secure = secure
        self.max_age = max_age

    @classmethod
    def of(cls, settings: Settings) -> Cookies:
        """The cookies under these settings."""
        return cls(settings.session_cookie_secure, settings.session_max_age_seconds)

    def set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )


__all__ = ["Cookies"]
