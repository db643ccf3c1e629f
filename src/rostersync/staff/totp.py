"""TOTP (RFC 6238 over RFC 4226: HMAC-SHA1, 30-second steps, 6 digits), standard library only.

The two-step sign-in of staff accounts (`rostersync.staff.accounts`) uses these; the RFC's test
vectors are in tests/unit/staff/test_totp.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps accepted either side of now: clocks drift, people type slowly
TOTP_ISSUER = "Educator Portal"


def new_totp_secret() -> str:
    """A random 160-bit secret in base32 without padding, as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def totp_step(at: float) -> int:
    """The 30-second time step a Unix time falls in."""
    return int(at // TOTP_STEP_SECONDS)


def hotp(key: bytes, counter: int, *, digits: int = TOTP_DIGITS) -> str:
    """RFC 4226 HOTP with HMAC-SHA1: dynamic truncation, then the low `digits` decimal digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def totp_code(secret: str, at: float, *, digits: int = TOTP_DIGITS) -> str:
    """The code a base32 secret shows at Unix time `at`."""
    return hotp(_secret_bytes(secret), totp_step(at), digits=digits)


def matching_step(secret: str, code: str, at: float) -> int | None:
    """The step (now, or one either side) whose code is `code`, compared in constant time."""
    typed = "".join(code.split())
    if not (typed.isascii() and typed.isdigit() and len(typed) == TOTP_DIGITS):
        return None
    key, now = _secret_bytes(secret), totp_step(at)
    found = None
    for step in range(now - TOTP_WINDOW, now + TOTP_WINDOW + 1):
        if hmac.compare_digest(hotp(key, step), typed):
            found = step
    return found


def otpauth_uri(secret: str, account: str) -> str:
    """The `otpauth://` URI an authenticator app reads (the Key Uri Format)."""
    label = quote(f"{TOTP_ISSUER}:{account}", safe="@:")
    query = urlencode(
        {"secret": secret, "issuer": TOTP_ISSUER, "algorithm": "SHA1", "digits": 6, "period": 30}
    )
    return f"otpauth://totp/{label}?{query}"


__all__ = [
    "TOTP_DIGITS",
    "TOTP_STEP_SECONDS",
    "TOTP_WINDOW",
    "hotp",
    "matching_step",
    "new_totp_secret",
    "otpauth_uri",
    "totp_code",
    "totp_step",
]
