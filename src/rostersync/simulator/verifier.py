"""Server-side OAuth 1.0a verification (RFC 5849 §3.2) for two-legged OneRoster requests.

The signature is recomputed from the request as received (method, Host header, raw path and query)
with the same signer the client uses, so any encoding disagreement shows up as `invalid signature`
exactly as it would against a real Roster Server.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable

from rostersync.oneroster import oauth1

_REQUIRED = (
    "oauth_consumer_key",
    "oauth_signature_method",
    "oauth_signature",
    "oauth_timestamp",
    "oauth_nonce",
)


class AuthFailure(Exception):
    """A request that must be answered with 401; `description` names the cause."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class OAuthVerifier:
    """Checks OAuth 1.0a Authorization headers and remembers nonces per consumer key.

    Args:
        clock: Current Unix time in seconds; injectable so tests can move time.
        window: Largest allowed difference, in seconds, between oauth_timestamp and the clock.
        max_nonces: Nonces remembered per key; the oldest are forgotten beyond this, which bounds
            memory at the cost of letting a very old nonce be replayed inside a busy window.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        window: int = 300,
        max_nonces: int = 100_000,
    ) -> None:
        self._clock = clock
        self._window = window
        self._max_nonces = max_nonces
        self._nonces: dict[str, OrderedDict[str, float]] = {}
        self._lock = threading.Lock()

    def verify(
        self, method: str, url: str, authorization: str | None, *, key: str, secret: str
    ) -> None:
        """Accept the request or raise AuthFailure.

        Args:
            method: The HTTP method as received.
            url: `http://` + Host header + raw request target (path and query, undecoded).
            authorization: The Authorization header, or None when absent.
            key: The consumer key the tenant expects.
            secret: The tenant's consumer secret.

        Raises:
            AuthFailure: The header is missing or malformed, or the key, signature method,
                timestamp, signature or nonce is not acceptable.
        """
        if not authorization:
            raise AuthFailure("missing OAuth Authorization header")
        try:
            params = oauth1.parse_authorization_header(authorization)
        except ValueError as exc:
            raise AuthFailure(f"malformed OAuth Authorization header: {exc}") from None
        for name in _REQUIRED:
            if not params.get(name):
                raise AuthFailure(f"missing {name} in the OAuth Authorization header")
        if not hmac.compare_digest(params["oauth_consumer_key"].encode(), key.encode()):
            raise AuthFailure("unknown oauth_consumer_key")
        signature_method = params["oauth_signature_method"]
        if signature_method not in oauth1.SIGNATURE_METHODS:
            raise AuthFailure("unsupported oauth_signature_method")
        if params.get("oauth_version", "1.0") != "1.0":
            raise AuthFailure("unsupported oauth_version")
        timestamp = params["oauth_timestamp"]
        now = self._clock()
        if not timestamp.isascii() or not timestamp.isdigit():
            raise AuthFailure("oauth_timestamp outside the allowed window")
        if abs(now - int(timestamp)) > self._window:
            raise AuthFailure("oauth_timestamp outside the allowed window")
        base = oauth1.signature_base_string(method, url, list(params.items()))
        expected = oauth1.sign(base, secret, method=signature_method)
        if not hmac.compare_digest(expected.encode(), params["oauth_signature"].encode()):
            raise AuthFailure("invalid signature")
        # Only a correctly signed request may consume a nonce, so nobody can burn another's.
        self._remember(key, params["oauth_nonce"], int(timestamp) + self._window, now)

    def _remember(self, key: str, nonce: str, expires: float, now: float) -> None:
        with self._lock:
            seen = self._nonces.setdefault(key, OrderedDict())
            while seen:
                oldest, until = next(iter(seen.items()))
                if until >= now and len(seen) < self._max_nonces:
                    break
                del seen[oldest]
            if nonce in seen and seen[nonce] >= now:
                raise AuthFailure("oauth_nonce already used")
            seen[nonce] = expires
            seen.move_to_end(nonce)
