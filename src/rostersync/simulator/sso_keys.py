"""The simulated ClassLink's signing keys, and every way it can sign an id_token badly on purpose.

Keys are RSA 2048 made at start with joserfc; `rotate()` replaces the published key, as ClassLink
would. `sign()` takes a `SsoFault` so tests can prove the relying party refuses each bad token the
OpenID conformance suite tries (security.md §1.5).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from enum import StrEnum
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey


class SsoFault(StrEnum):
    """How the simulator misbehaves; `NONE` is a well-behaved ClassLink."""

    NONE = "none"
    # Signature and algorithm.
    BAD_SIGNATURE = "bad-signature"  # another RSA key, but the published key's kid
    ALG_NONE = "alg-none"
    HS256_CLIENT_SECRET = "hs256-client-secret"  # noqa: S105 - a fault's name, not a secret
    HS256_PUBLIC_PEM = "hs256-public-pem"
    ES256 = "es256"
    UNKNOWN_KID = "unknown-kid"  # a kid the JWKS never publishes, even after a refetch
    KID_ABSENT = "kid-absent"
    KID_ABSENT_MULTIPLE = "kid-absent-multiple"  # no kid, and the JWKS holds two RSA keys
    UNKNOWN_KEY_TYPE_IN_JWKS = "unknown-key-type-in-jwks"
    # Claims.
    WRONG_ISSUER = "wrong-issuer"  # the issuer with a trailing slash
    OTHER_ISSUER = "other-issuer"
    WRONG_AUDIENCE = "wrong-audience"
    MISSING_AUDIENCE = "missing-audience"
    EXTRA_AUDIENCE = "extra-audience"
    WRONG_AZP = "wrong-azp"
    EXPIRED = "expired"
    FUTURE_IAT = "future-iat"
    STALE_IAT = "stale-iat"  # issued an hour ago: before the login started, though unexpired
    MISSING_IAT = "missing-iat"
    MISSING_SUB = "missing-sub"
    WRONG_NONCE = "wrong-nonce"
    MISSING_NONCE = "missing-nonce"
    # The ClassLink user.
    TENANT_MISMATCH = "tenant-mismatch"
    MISSING_SOURCED_ID = "missing-sourced-id"  # neither the token nor /v2/my/info has one
    USERINFO_ONLY = "userinfo-only"  # tenant and sourcedId only in /v2/my/info
    USERINFO_OTHER_USER = "userinfo-other-user"  # /v2/my/info answers for someone else
    # The endpoints themselves.
    TOKEN_ERROR = "token-error"  # noqa: S105 - a fault's name. HTTP 500
    TOKEN_GARBAGE = "token-garbage"  # noqa: S105 - a name. 200, body not JSON
    TOKEN_HANG = "token-hang"  # noqa: S105 - a name. Answers after hang_seconds
    DISCOVERY_ISSUER_MISMATCH = "discovery-issuer-mismatch"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


class SigningKeys:
    """The published RSA key (and its predecessors' replacements) of one simulated ClassLink."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = self._new_key()
        # Kept for KID_ABSENT_MULTIPLE, which needs a second published key.
        self._spare = self._new_key()
        self.rotations = 0

    @staticmethod
    def _new_key() -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)

    @property
    def kid(self) -> str:
        """The kid of the key that signs now."""
        with self._lock:
            return str(self._current.kid)

    def rotate(self) -> str:
        """Replace the signing key; the old one disappears from the JWKS at once.

        Returns:
            The new key's kid.
        """
        key = self._new_key()
        with self._lock:
            self._current = key
            self.rotations += 1
            return str(key.kid)

    def jwks(self, fault: SsoFault = SsoFault.NONE) -> dict[str, Any]:
        """The public JWKS document, shaped by the fault where it concerns the key set."""
        with self._lock:
            keys = [self._current.as_dict(private=False)]
            if fault is SsoFault.KID_ABSENT_MULTIPLE:
                keys.append(self._spare.as_dict(private=False))
        if fault is SsoFault.UNKNOWN_KEY_TYPE_IN_JWKS:
            # RFC 7517 §5: a relying party must skip a key type it does not understand.
            keys.append({"kty": "XYZ", "kid": "future-key", "use": "sig", "x": "AAAA"})
        return {"keys": keys}

    def sign(
        self, claims: dict[str, Any], *, fault: SsoFault = SsoFault.NONE, client_secret: str = ""
    ) -> str:
        """Sign an id_token, correctly unless `fault` says how to get it wrong."""
        with self._lock:
            current = self._current
        kid = str(current.kid)
        header: dict[str, Any] = {"alg": "RS256", "kid": kid}
        if fault is SsoFault.ALG_NONE:
            head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
            return f"{head}.{_b64(json.dumps(claims).encode())}."
        if fault is SsoFault.BAD_SIGNATURE:
            return jwt.encode(header, claims, self._new_key(), algorithms=["RS256"])
        if fault is SsoFault.HS256_CLIENT_SECRET:
            return _hs256({"alg": "HS256", "kid": kid}, claims, client_secret.encode())
        if fault is SsoFault.HS256_PUBLIC_PEM:
            # CVE-2024-37568's class: HMAC keyed with the published RSA key's PEM. joserfc refuses
            # to build such a key, so the token is put together by hand.
            pem = current.as_pem(private=False)
            return _hs256({"alg": "HS256", "kid": kid}, claims, pem)
        if fault is SsoFault.ES256:
            ec = ECKey.generate_key("P-256")
            return jwt.encode({"alg": "ES256", "kid": kid}, claims, ec, algorithms=["ES256"])
        if fault is SsoFault.UNKNOWN_KID:
            stranger = self._new_key()
            return jwt.encode({"alg": "RS256", "kid": "never-published"}, claims, stranger)
        if fault in (SsoFault.KID_ABSENT, SsoFault.KID_ABSENT_MULTIPLE):
            header = {"alg": "RS256"}
        return jwt.encode(header, claims, current, algorithms=["RS256"])
