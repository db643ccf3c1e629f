"""How the OneRoster adapters open HTTP connections, in one place.

Every adapter that talks to a roster server (the REST client, the OAuth 2 token client, the
ClassLink proxy directory) uses the same client settings: JSON only, no redirects (a redirect to
another host must never carry our credentials), an explicit timeout, and a user agent naming us.
"""

from __future__ import annotations

import ssl
from functools import cache
from types import TracebackType
from typing import Self

import httpx

from rostersync import __version__


@cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of this process: certificates verified against the host name, from
    certifi's bundle (or `SSL_CERT_FILE` / `SSL_CERT_DIR`), as httpx makes it. Reading the bundle
    costs tens of milliseconds, once here instead of once per run's connection pool."""
    return httpx.create_ssl_context()


def open_http(*, timeout: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A connection pool with rostersync's settings; `transport` lets tests inject a fake server."""
    return httpx.Client(
        transport=transport,
        verify=tls_context(),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"Accept": "application/json", "User-Agent": f"rostersync/{__version__}"},
    )


class PooledHttp:
    """An adapter that owns a connection pool in `_http`; usable as a context manager."""

    _http: httpx.Client

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
