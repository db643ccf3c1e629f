"""The ClassLink OneRoster proxy: districts found through a partner key, read with their bearers.

    ProxyDirectory(partner_key, base_url)
      .applications()            GET /applications?limit=&offset=  (Bearer <partner key>), paged
                                 until a short page, since the proxy sends no count headers
      .client_for(tenant_id)     a OneRosterClient on {base_url}/{oneroster_application_id}/ims/
                                 oneroster/v1p1 with BearerAuth(<bearer>); on a 401 it re-reads
                                 /applications once and retries with the bearer found there

`oneroster_application_id` arrives percent-escaped and goes into the path verbatim: re-encoding it
would address another (non-existent) application. Bearers and the partner key never reach a log
line, a `repr` or a message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from rostersync.errors import (
    ConfigError,
    FatalSourceError,
    RetriableSourceError,
    SourceAuthError,
)
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.http import PooledHttp, open_http
from rostersync.oneroster.oauth2 import BearerAuth

__all__ = ["CLASSLINK_PROXY_URL", "ProxyApplication", "ProxyDirectory"]

CLASSLINK_PROXY_URL = "https://oneroster-proxy.classlink.io"
# The proxy accepts limit=10000; ~630 districts for one large vendor fit in one page.
_APPLICATIONS_PAGE = 1000
_MAX_APPLICATION_PAGES = 1000


@dataclass(frozen=True, slots=True)
class ProxyApplication:
    """One district that shares its roster with us through the proxy."""

    tenant_id: str
    tenant_name: str
    oneroster_application_id: str
    enabled: bool
    bearer: str = field(repr=False)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _application(row: dict[str, Any]) -> ProxyApplication | None:
    app_id = _text(row.get("oneroster_application_id"))
    bearer = _text(row.get("bearer"))
    if not app_id or not bearer:
        return None
    enabled = _text(row.get("enabled", "true")).strip().lower() not in ("false", "0")
    return ProxyApplication(
        tenant_id=_text(row.get("tenant_id")),
        tenant_name=_text(row.get("tenant_name")),
        oneroster_application_id=app_id,
        enabled=enabled,
        bearer=bearer,
    )


class ProxyDirectory(PooledHttp):
    """The districts a partner key can read through the ClassLink proxy.

    Args:
        partner_key: The partner API key from ClassLink's developer console.
        base_url: The proxy's origin.
        page_size: `limit` for `/applications`.
        timeout: Seconds per request.
        transport: An httpx transport (tests inject one).

    Raises:
        ConfigError: The key is empty or the URL unusable.
    """

    def __init__(
        self,
        partner_key: str,
        base_url: str = CLASSLINK_PROXY_URL,
        *,
        page_size: int = _APPLICATIONS_PAGE,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"ClassLink proxy URL {base_url!r} is not an http(s) URL with a host; use "
                f"{CLASSLINK_PROXY_URL}"
            )
        if not partner_key:
            raise ConfigError(
                "the ClassLink partner key is empty; copy it from the developer console's "
                "OneRoster module"
            )
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.requests = 0
        self._partner_key = partner_key
        self._transport = transport
        self._apps: list[ProxyApplication] | None = None
        self._lock = threading.Lock()
        self._http = open_http(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"ProxyDirectory({self.base_url!r}, partner_key='***')"

    def applications(self, *, refresh: bool = False) -> list[ProxyApplication]:
        """Every application shared with the partner key, read once and cached.

        Args:
            refresh: Read `/applications` again even if a list is cached.

        Raises:
            SourceAuthError: The partner key was refused.
            RetriableSourceError: The proxy was unreachable or answered 429/5xx.
            FatalSourceError: The proxy answered something that is not the application list.
        """
        with self._lock:
            if self._apps is None or refresh:
                self._apps = self._read_all()
            return list(self._apps)

    def application(self, tenant_id: str, *, refresh: bool = False) -> ProxyApplication:
        """The enabled application of a ClassLink tenant id.

        Raises:
            SourceAuthError: The tenant does not (or no longer) share its roster with us.
        """
        for app in self.applications(refresh=refresh):
            if app.tenant_id == tenant_id and app.enabled:
                return app
        raise SourceAuthError(
            f"ClassLink tenant {tenant_id!r} is not among the districts sharing with this "
            "partner key; ask the district to share the application in the Roster Server "
            "console, and check the tenant id in the district's settings",
            credential="tenant sharing",
            url="/applications",
        )

    def base_url_for(self, app: ProxyApplication) -> str:
        """The OneRoster 1.1 base URL of an application, its id placed in the path verbatim."""
        return f"{self.base_url}/{app.oneroster_application_id}/ims/oneroster/v1p1"

    def auth_for(self, tenant_id: str) -> BearerAuth:
        """A `BearerAuth` for the tenant whose renewal re-reads `/applications` once.

        Raises:
            SourceAuthError: The tenant is not shared with us.
        """
        app = self.application(tenant_id)

        def renew() -> str:
            # A rotated bearer (or a re-shared district) shows up in a fresh application list.
            return self.application(tenant_id, refresh=True).bearer

        return BearerAuth(
            app.bearer,
            renew=renew,
            credential="proxy bearer",
            advice=(
                f"the ClassLink proxy refused the bearer of tenant {tenant_id!r} even after "
                "re-reading /applications; the district may have stopped sharing, or the "
                "partner key belongs to another application"
            ),
        )

    def client_for(self, tenant_id: str, **client_options: Any) -> OneRosterClient:
        """A `OneRosterClient` reading the tenant through the proxy.

        Args:
            tenant_id: The ClassLink tenant id.
            **client_options: Passed to `OneRosterClient` (page_size, timeout, …); the
                directory's transport is used unless one is given.

        Raises:
            SourceAuthError: The tenant is not shared with us.
        """
        app = self.application(tenant_id)
        client_options.setdefault("transport", self._transport)
        return OneRosterClient(self.base_url_for(app), self.auth_for(tenant_id), **client_options)

    def _read_all(self) -> list[ProxyApplication]:
        apps: list[ProxyApplication] = []
        offset = 0
        for _page in range(_MAX_APPLICATION_PAGES):
            rows = self._read_page(offset)
            apps += [a for a in (_application(r) for r in rows) if a is not None]
            # No count headers on /applications: a short page is the only end marker.
            if len(rows) < self.page_size:
                return apps
            offset += len(rows)
        raise FatalSourceError(
            f"/applications on {urlsplit(self.base_url).netloc} did not end after "
            f"{_MAX_APPLICATION_PAGES} pages; it seems to ignore `offset`",
            url="/applications",
        )

    def _read_page(self, offset: int) -> list[dict[str, Any]]:
        host = urlsplit(self.base_url).netloc
        url = f"{self.base_url}/applications?limit={self.page_size}&offset={offset}"
        self.requests += 1
        try:
            response = self._http.get(url, headers={"Authorization": f"Bearer {self._partner_key}"})
        except httpx.HTTPError as exc:
            raise RetriableSourceError(
                f"the ClassLink proxy {host} did not answer GET /applications "
                f"({type(exc).__name__}); the sync can be retried later",
                url="/applications",
            ) from exc
        status = response.status_code
        if status in (401, 403):
            raise SourceAuthError(
                f"the ClassLink proxy {host} refused the partner key (HTTP {status}); check the "
                "partner key in the developer console's OneRoster module",
                credential="partner key",
                url="/applications",
                status=status,
            )
        if status == 429 or status >= 500:
            raise RetriableSourceError(
                f"the ClassLink proxy {host} answered GET /applications with HTTP {status}; the "
                "sync can be retried later",
                url="/applications",
                status=status,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        rows = body.get("applications") if isinstance(body, dict) else None
        if status != 200 or not isinstance(rows, list):
            raise FatalSourceError(
                f"the ClassLink proxy {host} answered GET /applications with HTTP {status} and "
                "no application list; check the proxy URL",
                url="/applications",
                status=status,
            )
        return [r for r in rows if isinstance(r, dict)]
