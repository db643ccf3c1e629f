"""How the OneRoster adapters open HTTP connections, in one place.

Every adapter that talks to a roster server (the REST client, the OAuth 2 token client, the
ClassLink proxy directory) uses the same client settings: JSON only, no redirects (a redirect to
another host must never carry our credentials), an explicit timeout, and a user agent naming us.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from rostersync import __version__


def open_http(*, timeout: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A connection pool with rostersync's settings; `transport` lets tests inject a fake server."""
    return httpx.Client(
        transport=transport,
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
