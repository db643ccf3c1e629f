"""What every sign-in provider's relying party does alike: keep an issuer's signing keys, and
check an id_token (OIDC Core §3.1.3.7, RFC 8725) before anyone is signed in with it.

ClassLink (`signin.oidc`) and Clever (`signin.clever`) each discover their issuer and fetch its
JWKS their own way, and word a refusal their own way (`Refuse`); the keys' cache and every check
of the token are these, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

if TYPE_CHECKING:
    from rostersync.signin.oidc import SignInRefused

__all__ = ["ALGORITHMS", "LEEWAY_SECONDS", "Refuse", "SigningKeys", "plain_subject", "verify"]

# ClassLink and Clever sign with RS256 only; the allow-list is ours, not the token's (RFC 8725).
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60  # clock skew allowed on exp and iat
_MAX_SUBJECT = 255


class Refuse(Protocol):
    """A provider's refusal for `reason`, naming the signed subject once it is known."""

    def __call__(self, reason: str, *, subject: str | None = None) -> SignInRefused: ...


def plain_subject(value: object) -> str | None:
    """A `sub` as an account is keyed by, or None when it is not one (empty, too long, not
    ASCII)."""
    if isinstance(value, str) and 0 < len(value) <= _MAX_SUBJECT and value.isascii():
        return value
    return None


class SigningKeys:
    """An issuer's JWKS, fetched on first use and again, at most once per `refetch_interval`
    seconds, when a token names a key id it lacks (a key rotation).

    Concurrent sign-ins that meet the same new key id (or an empty cache) wait for the one fetch
    in flight and use its keys, rather than each fetching, or being refused by the interval while
    the first fetch is still on its way.

    Args:
        fetch: Reads the JWKS; raises `httpx.HTTPError`, `ValueError` or `JoseError` when it
            cannot.
        clock: Current Unix time in seconds.
        refetch_interval: Seconds between refetches on an unknown key id.
    """

    def __init__(
        self, fetch: Callable[[], KeySet], *, clock: Callable[[], float], refetch_interval: float
    ) -> None:
        self._fetch = fetch
        self.clock = clock
        self.refetch_interval = refetch_interval
        self._keys: KeySet | None = None
        self._last_refetch = float("-inf")
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        #: How many times the JWKS was fetched.
        self.fetches = 0

    def _fetched(self) -> KeySet:
        keys = self._fetch()
        with self._lock:
            self._keys = keys
            self.fetches += 1
        return keys

    def for_kid(self, kid: str | None) -> KeySet:
        """The keys to verify a token naming `kid` with (see the class)."""
        with self._lock:
            keys = self._keys
        if keys is not None and (kid is None or any(key.kid == kid for key in keys)):
            return keys
        with self._fetch_lock:
            with self._lock:
                keys = self._keys
            if keys is None:
                return self._fetched()
            if kid is None or any(key.kid == kid for key in keys):
                return keys
            now = self.clock()
            with self._lock:
                if now - self._last_refetch < self.refetch_interval:
                    return keys
                self._last_refetch = now
            return self._fetched()


def verify(
    id_token: str,
    keys: SigningKeys,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    login_started_at: float,
    refuse: Refuse,
) -> dict[str, Any]:
    """The id_token's claims, once its signature (by `keys`, an allowed algorithm) and claims
    hold: `iss` is `issuer`; `aud` is exactly `client_id` (and `azp`, when given); `exp`, and
    `iat` no earlier than the login's start (a provider's `exp` may be a day out); `nonce`; and a
    `sub` an account can be keyed by.

    Raises:
        SignInRefused: From `refuse`, with the reason naming the check that failed:
            id_token_malformed, id_token_algorithm, jwks_unreachable, id_token_signature,
            id_token_expired, id_token_claim_<claim>, id_token_claim_iat_stale.
    """
    try:
        header = extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError):
        raise refuse("id_token_malformed") from None
    if header.get("alg") not in ALGORITHMS:
        raise refuse("id_token_algorithm")
    kid = header.get("kid")
    try:
        key_set = keys.for_kid(kid if isinstance(kid, str) else None)
    except (httpx.HTTPError, ValueError, JoseError):
        raise refuse("jwks_unreachable") from None
    try:
        decoded = jwt.decode(id_token, key_set, algorithms=ALGORITHMS)
    except JoseError:
        raise refuse("id_token_signature") from None
    claims = decoded.claims
    # Signed by the provider from here on: a refusal may name the subject (hashed in the log).
    named = plain_subject(claims.get("sub"))
    registry = jwt.JWTClaimsRegistry(
        now=int(keys.clock()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise refuse("id_token_expired", subject=named) from None
    except JoseError as exc:
        claim = str(getattr(exc, "claim", "") or exc.error).split(",")[0]
        raise refuse(f"id_token_claim_{claim}", subject=named) from None
    # joserfc accepts an `aud` list that merely contains us; trust no other audience.
    audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
    if audiences != [client_id]:
        raise refuse("id_token_claim_aud", subject=named)
    if "azp" in claims and claims["azp"] != client_id:
        raise refuse("id_token_claim_azp", subject=named)
    # Freshness comes from iat against the login's start.
    if claims["iat"] < login_started_at - LEEWAY_SECONDS:
        raise refuse("id_token_claim_iat_stale", subject=named)
    if named is None:
        raise refuse("id_token_claim_sub")
    checked: dict[str, Any] = claims
    return checked
