"""Every refusal leaves a trace: a reference the person can quote, and one log line that has it.

A refused ClassLink sign-in (a forged token, `alg: none`, a discovery document naming another
issuer, a person from another district, …) shows the refusal page with a reference made for that
one refusal; `record_refusal` logs the same reference with the reason code, the district id when
known, and a keyed hash of the ClassLink subject when the token got far enough to name one, and
counts the refusal by reason (`rostersync_sign_in_refusals_total` at /metrics). Names, emails,
sourcedIds, codes and tokens never reach the line. The rate limits (staff/limits.py) use the same
references and hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import Protocol

import structlog

from rostersync import metrics
from rostersync.config import Settings

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U

_log = structlog.get_logger(__name__)


class Refusal(Protocol):
    """What a logged refusal carries (`signin.oidc.SignInRefused` has these)."""

    reference: str
    reason: str
    district_id: str | None
    subject: str | None


def new_reference() -> str:
    """A random reference for one refusal, easy to read out on the phone: `7KQ2M-9XPAD`."""
    text = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{text[:5]}-{text[5:]}"


def pseudonym(value: str, settings: Settings) -> str:
    """A keyed hash of a personal value (an email, an address, a ClassLink subject) for log lines
    and rate-limit keys: the same value gives the same pseudonym under the same keys, and without
    the key it cannot be guessed back from a list of likely values."""
    key = _pseudonym_key(settings.encryption_keys()[0])
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


@lru_cache(maxsize=4)
def _pseudonym_key(secret_key: str) -> bytes:
    """A key of its own for pseudonyms, derived from the newest secret key."""
    return hashlib.sha256(b"rostersync pseudonym\0" + secret_key.encode()).digest()


def record_refusal(exc: Refusal, settings: Settings) -> None:
    """Log a refused sign-in under its reference, and count it by reason."""
    _log.warning(
        "sign_in.refused",
        reference=exc.reference,
        reason=exc.reason,
        district=exc.district_id,
        subject=pseudonym(exc.subject, settings) if exc.subject else None,
    )
    metrics.SIGN_IN_REFUSALS.labels(reason=exc.reason).inc()


__all__ = ["Refusal", "new_reference", "pseudonym", "record_refusal"]
