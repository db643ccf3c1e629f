"""Roster sources for the REST doors: OneRoster 1.2 (OAuth 2) and the ClassLink proxy.

These are constructors; which one a district uses is its provider's choice
(`rostersync.providers`, one module per source kind, `providers.build_source`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, Protocol

from rostersync.domain.records import EntityKind, Record
from rostersync.errors import ConfigError
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.mapping import MAPPERS
from rostersync.oneroster.mapping_v1p2 import MAPPERS_V1P2
from rostersync.oneroster.oauth2 import ROSTER_CORE_SCOPE, OAuth2ClientCredentials
from rostersync.oneroster.proxy import ProxyDirectory
from rostersync.sync.sources import COLLECTIONS, Progress, PullStats

__all__ = [
    "ClientSource",
    "oneroster_v1p2_source",
    "proxy_source",
    "token_url_for",
]

_V1P2_ROOT = "/ims/oneroster/rostering/v1p2"


class _Closeable(Protocol):
    def close(self) -> None: ...


class ClientSource:
    """Any `OneRosterClient` as a roster source, with the wire mapping of its OneRoster version.

    Args:
        client: The client to pull with; closed when the pull ends.
        mappers: Wire-to-record functions by collection (`MAPPERS` or `MAPPERS_V1P2`).
        closing: More things to close with the client (a token client, a proxy directory).
        filter: A OneRoster filter sent with every collection (a delta's `dateLastModified>'…'`).
    """

    def __init__(
        self,
        client: OneRosterClient,
        mappers: dict[str, Callable[[object], Record]],
        *,
        closing: tuple[_Closeable, ...] = (),
        filter: str | None = None,
    ) -> None:
        self.stats = PullStats()
        self._client = client
        self._mappers = mappers
        self._closing = closing
        self.filter = filter

    # `sources.first_record` may read it without holding its collections back.
    peekable = True

    def records(self, progress: Progress | None = None, *, held: bool = True) -> Iterator[Record]:
        """Yield every record, collection by collection in dependency order; with `held=False`
        each page is handed on as it arrives (see `sources.first_record`)."""
        try:
            with self._client:
                for collection, _kinds in COLLECTIONS:
                    mapper = self._mappers[collection]
                    count = 0
                    # Progress comes from the pages as they arrive: a collection's records are
                    # handed on only once it arrived whole (a restart starts from nothing).
                    pages = None if progress is None else partial(progress, collection)
                    for raw in self._client.iter_collection(
                        collection, filter=self.filter, on_page=pages, held=held
                    ):
                        yield mapper(raw)
                        count += 1
                    self.stats.records[collection] = count
                    if progress is not None:
                        progress(collection, count)
        finally:
            # Reported even when the pull fails, so a run's record shows how far it got.
            self.stats.requests = self._client.stats.requests
            self.stats.retries = self._client.stats.retries
            for other in self._closing:
                other.close()

    def complete_kinds(self) -> set[EntityKind]:
        """The kinds whose collection arrived whole and non-empty."""
        # The client raised if a page was missing, so a finished collection is whole; an empty
        # one is still never taken to mean that everyone left.
        return {
            kind
            for collection, kinds in COLLECTIONS
            if self.stats.records.get(collection, 0) > 0
            for kind in kinds
        }


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
