"""How a OneRoster request proves who sends it.

Every authenticator is a small object with one method, `headers_for(method, url)`, that returns the
headers to add to a request for that exact URL. The client never knows which scheme it holds, so
OAuth 2 client-credentials and static bearer tokens can join OAuth 1.0a later without touching it.
Secrets stay inside these objects: their `repr` never shows one, and nothing here logs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rostersync.errors import ConfigError, SourceAuthError
from rostersync.oneroster import oauth1

__all__ = ["OAuth1Auth", "RefreshableAuth", "SourceAuth"]


@runtime_checkable
class SourceAuth(Protocol):
    """Anything that can add authentication headers to a OneRoster request."""

    def headers_for(self, method: str, url: str) -> dict[str, str]:
        """Headers that authenticate `method url`; `url` is exactly the string that will be sent."""
        ...


@runtime_checkable
class RefreshableAuth(SourceAuth, Protocol):
    """An authenticator whose credential can go stale (an OAuth 2 token, a proxy bearer).

    On a 401 the client calls `refresh()` once and resends; if the answer is still 401 it raises
    `explain(error)`, which names the credential to check for this scheme.
    """

    def refresh(self) -> None:
        """Drop the current credential and obtain a fresh one."""
        ...

    def explain(self, error: SourceAuthError) -> SourceAuthError:
        """The error to raise for a refusal that a refresh did not cure."""
        ...


class OAuth1Auth:
    """Two-legged OAuth 1.0a (RFC 5849), as ClassLink Roster Servers expect on direct access.

    Each call signs afresh: a new nonce and timestamp per request, so a retried request is never
    rejected as a replay.

    Args:
        key: The consumer key (ClassLink calls it the client id).
        secret: The consumer secret (client secret).
        signature_method: `HMAC-SHA256` (OneRoster's choice) or `HMAC-SHA1`.

    Raises:
        ConfigError: The key or secret is empty, or the signature method is unknown.
    """

    __slots__ = ("_key", "_secret", "_signature_method")

    def __init__(self, key: str, secret: str, signature_method: str = "HMAC-SHA256") -> None:
        if not key:
            raise ConfigError("the OneRoster key (client id) is empty; copy it from ClassLink")
        if not secret:
            raise ConfigError(
                "the OneRoster secret (client secret) is empty; copy it from ClassLink"
            )
        if signature_method not in oauth1.SIGNATURE_METHODS:
            known = ", ".join(sorted(oauth1.SIGNATURE_METHODS))
            raise ConfigError(
                f"OAuth signature method {signature_method!r} is not supported; use one of {known}"
            )
        self._key = key
        self._secret = secret
        self._signature_method = signature_method

    @property
    def key(self) -> str:
        """The consumer key; not a secret, so it may appear in messages."""
        return self._key

    @property
    def signature_method(self) -> str:
        """`HMAC-SHA256` or `HMAC-SHA1`."""
        return self._signature_method

    def headers_for(self, method: str, url: str) -> dict[str, str]:
        """The `Authorization` header for `method url`, signed over that exact URL.

        Args:
            method: The HTTP method, e.g. `GET`.
            url: The full URL as it will be sent, query included (built with `oauth1.build_url`).

        Returns:
            A one-entry dict with the `Authorization: OAuth …` header.
        """
        return {
            "Authorization": oauth1.authorization_header(
                method,
                url,
                consumer_key=self._key,
                consumer_secret=self._secret,
                signature_method=self._signature_method,
            )
        }

    def __repr__(self) -> str:
        return (
            f"OAuth1Auth(key={self._key!r}, secret='***', "
            f"signature_method={self._signature_method!r})"
        )
