"""The rules of staff accounts: lockout, password strength, invitation and code-step lifetimes."""

from __future__ import annotations

from datetime import timedelta

from rostersync.errors import ConfigError

MAX_FAILURES = 5  # then the account locks for `staff_lockout_seconds` (15 minutes)
MIN_PASSWORD = 12
INVITATION_LIFETIME = timedelta(days=7)
# How long the code step may follow a right password.
CODE_STEP_LIFETIME = timedelta(minutes=5)
# Stored for accounts made through ClassLink: no argon2 hash has this form, so no password
# signs in to them; such a person signs in through ClassLink.
NO_PASSWORD = "!classlink-only"  # noqa: S105 - a marker that matches no password, not a secret


def check_password(password: str, email: str) -> None:
    """The strength rule for a new password: at least 12 characters, at least 5 different ones,
    and not containing the email's name part.

    Raises:
        ConfigError: What is wrong with the password and what to choose instead.
    """
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            f"the password must have at least {MIN_PASSWORD} characters; a few unrelated words "
            "make a long one that is easy to remember"
        )
    if len(set(password)) < 5:
        raise ConfigError("the password repeats too few characters; use at least 5 different ones")
    name = email.partition("@")[0].strip().lower()
    if len(name) >= 3 and name in password.lower():
        raise ConfigError("the password must not contain your email address; choose another one")


__all__ = [
    "CODE_STEP_LIFETIME",
    "INVITATION_LIFETIME",
    "MAX_FAILURES",
    "MIN_PASSWORD",
    "NO_PASSWORD",
    "check_password",
]
