"""TOTP (RFC 6238) with the standard library: the RFC's test vectors and the ±1 step window."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from rostersync.errors import ConfigError
from rostersync.staff.policy import check_password
from rostersync.staff.totp import hotp, matching_step, new_totp_secret, otpauth_uri, totp_code

# RFC 6238 Appendix B: the SHA1 seed is the ASCII string "12345678901234567890", 8 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


class TestRfcVectors:
    """Our HOTP/TOTP give exactly the codes RFC 4226 and RFC 6238 publish."""

    @pytest.mark.parametrize(("at", "expected"), RFC_VECTORS)
    def test_rfc_6238_sha1_vectors(self, at: int, expected: str) -> None:
        assert totp_code(RFC_SECRET, at, digits=8) == expected

    def test_rfc_4226_hotp_vectors(self) -> None:
        expected = ["755224", "287082", "359152", "969429", "338314"]
        assert [hotp(b"12345678901234567890", i) for i in range(5)] == expected

    def test_six_digit_codes_are_the_low_digits(self) -> None:
        assert totp_code(RFC_SECRET, 59) == "287082"


class TestWindow:
    """A code from the step before or after now is accepted; two steps away is not."""

    def test_one_step_either_side(self) -> None:
        secret, now = new_totp_secret(), 1_700_000_015.0
        for offset in (-30, 0, 30):
            step = matching_step(secret, totp_code(secret, now + offset), now)
            assert step == int((now + offset) // 30)
        assert matching_step(secret, totp_code(secret, now + 60), now) is None
        assert matching_step(secret, totp_code(secret, now - 60), now) is None

    def test_spaces_are_ignored_and_junk_refused(self) -> None:
        secret, now = new_totp_secret(), 1_700_000_015.0
        code = totp_code(secret, now)
        assert matching_step(secret, f"{code[:3]} {code[3:]}", now) is not None
        for junk in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
            assert matching_step(secret, junk, now) is None


class TestEnrolment:
    """The secret is 160 random bits in base32; the URI is what authenticator apps read."""

    def test_secret_and_uri(self) -> None:
        secret = new_totp_secret()
        assert len(secret) == 32 and len(base64.b32decode(secret)) == 20
        uri = otpauth_uri(secret, "dm@springfield.example")
        parts = urlsplit(uri)
        assert parts.scheme == "otpauth" and parts.netloc == "totp"
        assert parts.path == "/Educator%20Portal:dm@springfield.example"
        query = parse_qs(parts.query)
        assert query["secret"] == [secret] and query["period"] == ["30"]
        assert query["algorithm"] == ["SHA1"] and query["digits"] == ["6"]


class TestPasswordRule:
    """A new password is long, not one repeated character, and not the email."""

    @pytest.mark.parametrize(
        "password", ["short pass", "aaaaaaaaaaaaaaaa", "ababababababab", "pat.manager-2026!"]
    )
    def test_weak_passwords_are_refused_with_the_reason(self, password: str) -> None:
        with pytest.raises(ConfigError, match="password"):
            check_password(password, "pat.manager@springfield.example")

    def test_a_long_passphrase_passes(self) -> None:
        check_password("correct horse battery staple", "pat.manager@springfield.example")
