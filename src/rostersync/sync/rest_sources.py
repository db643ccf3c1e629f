"""Roster sources for the REST doors: OneRoster 1.2 (OAuth 2) and the ClassLink proxy.

These are constructors of the one REST pull, `sources.ClientSource`; which one a district uses is
its provider's choice (`rostersync.providers`, one module per source kind, `build_source`).
"""

from __future__ import annotations

from typing import Any

from rostersync.errors import ConfigError
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.mapping import MAPPERS
from rostersync.oneroster.mapping_v1p2 import MAPPERS_V1P2
from rostersync.oneroster.oauth2 import ROSTER_CORE_SCOPE, OAuth2ClientCredentials
from rostersync.oneroster.proxy import ProxyDirectory
from rostersync.sync.sources import ClientSource

__all__ = [
    "ClientSource",
    "oneroster_v1p2_source",
    "proxy_source",
    "token_url_for",
]

_V1P2_ROOT = "/ims/oneroster/rostering/v1p2"


def token_url_for(base_url: str) -> str:
    """The OAuth 2 token endpoint for a 1.2 rostering base URL: `/token` beside `/ims/…`.

    Raises:
        ConfigError: The URL does not end in `/ims/oneroster/rostering/v1p2`.
    """
    root = base_url.rstrip("/")
    if not root.endswith(_V1P2_ROOT):
        raise ConfigError(
            f"a OneRoster 1.2 source URL ends in {_V1P2_ROOT}, e.g. "
            f"https://<tenant>.rosterserver.com{_V1P2_ROOT}; got {base_url!r}"
        )
    return root.removesuffix(_V1P2_ROOT) + "/token"


def oneroster_v1p2_source(
    base_url: str,
    client_id: str,
    client_secret: str,
    *,
    token_url: str | None = None,
    scopes: tuple[str, ...] = (ROSTER_CORE_SCOPE,),
    client_auth: str = "basic",
    **client_options: Any,
) -> ClientSource:
    """A OneRoster 1.2 rostering server read with OAuth 2 client credentials.

    Args:
        base_url: The rostering base, `…/ims/oneroster/rostering/v1p2`.
        client_id: OAuth 2 client id.
        client_secret: OAuth 2 client secret.
        token_url: The token endpoint; derived with `token_url_for` when not given.
        scopes: Scopes to request.
        client_auth: "basic" or "form".
        **client_options: Passed to `OneRosterClient` (page_size, timeout, max_retries, …).
    """
    auth = OAuth2ClientCredentials(
        token_url or token_url_for(base_url),
        client_id,
        client_secret,
        scopes=scopes,
        client_auth=client_auth,
        timeout=client_options.get("timeout", 30.0),
        transport=client_options.get("transport"),
    )
    client = OneRosterClient(base_url, auth, **client_options)
    return ClientSource(client, MAPPERS_V1P2, closing=(auth,))


def proxy_source(
    proxy_url: str, partner_key: str, tenant_id: str, **client_options: Any
) -> ClientSource:
    """A district read through the ClassLink proxy, found by its tenant id.

    Raises:
        SourceAuthError: The partner key is refused or the tenant does not share with us.
    """
    directory = ProxyDirectory(
        partner_key,
        proxy_url,
        timeout=client_options.get("timeout", 30.0),
        transport=client_options.get("transport"),
    )
    try:
        client = directory.client_for(tenant_id, **client_options)
    except BaseException:
        directory.close()
        raise
    return ClientSource(client, MAPPERS, closing=(directory,))
