"""A OneRoster 1.1 REST client that streams collections page by page.

    OneRosterClient.iter_collection("users", filter=…)
      └── per page: build URL (oauth1.build_url) → _send → parse envelope → Paginator.advance
                    → yield records
          _send: GET through `transport.RetryTransport`, signed per attempt (auth.headers_for),
                 judged by `answers.classify_response`; a refused token is renewed once

Failures become the errors in `rostersync.errors`, named for what the caller does next:

    SourceAuthError        401/403: `.credential` says what to check (key, secret, clock, …)
    RetriableSourceError   429, 5xx, timeouts, connection failures that outlived `max_retries`
    FatalSourceError       other 4xx, redirects, a body that is not the JSON envelope we expect
    IncompleteSourceError  a collection that did not arrive whole (see `paging`)

With a total (`X-Total-Count`), the pages after the first are fetched side by side, up to
`page_concurrency` requests of one client in flight at a time (`page_spans`, decision 0032); without
one, page after page as the `next` links or counts say.

A body cut short in transit (JSON that breaks off) is retried like a 5xx. A collection whose count
does not add up (`paging.CountMismatch`: records came or went mid-pull) is pulled again once from
offset 0, from nothing: while a restart is possible, a collection's pages are held back
(`held_pages`) and handed on only once the whole collection has arrived, so a record removed or
changed mid-pull never reaches the caller from a page that came before the change.

The URL we sign is byte for byte the URL we send: it is built once with RFC 5849 encoding (`%20`,
never `+`) and handed to httpx as a string, which httpx keeps as is. Log lines carry the collection
(a retry: the path), page and count only; query strings (filters can hold names) never reach a log
line, and error messages name the path, not the query.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from rostersync.errors import ConfigError, FatalSourceError, SourceAuthError, SourceError
from rostersync.oneroster import oauth1
from rostersync.oneroster.answers import StatusInfo, classify_response, status_info
from rostersync.oneroster.auth import RefreshableAuth, SourceAuth
from rostersync.oneroster.held_pages import whole_pages
from rostersync.oneroster.http import PooledHttp, open_http
from rostersync.oneroster.page_json import decode_page
from rostersync.oneroster.page_spans import fetch_spans
from rostersync.oneroster.paging import DEFAULT_MAX_PAGES, Paginator
from rostersync.oneroster.transport import (
    ATTEMPT_HEADERS,
    RetryPolicy,
    RetryTransport,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_PAGE_CONCURRENCY",
    "ENVELOPES",
    "ClientStats",
    "CollectionStats",
    "OneRosterClient",
    "StatusInfo",
    "classify_response",
    "parse_retry_after",
    "status_info",
]

# The envelope names the resource type, not the endpoint (`/schools` → `orgs`); the spec key comes
# first, then keys that some servers send instead.
ENVELOPES: dict[str, tuple[str, ...]] = {
    "users": ("users", "students", "teachers"),
    "students": ("users", "students"),
    "teachers": ("users", "teachers"),
    "orgs": ("orgs", "schools"),
    "schools": ("orgs", "schools"),
    "academicSessions": ("academicSessions", "terms"),
    "terms": ("academicSessions", "terms"),
    "gradingPeriods": ("academicSessions", "gradingPeriods"),
    "courses": ("courses",),
    "classes": ("classes",),
    "enrollments": ("enrollments",),
    "demographics": ("demographics",),
}

MAX_PAGE_SIZE = 10_000  # ClassLink's documented ceiling for `limit`
# Requests one client (one district's pull) has in flight at once, by default.
DEFAULT_PAGE_CONCURRENCY = 4
_BODY = "rostersync.json"  # the response extension holding the body the judge decoded
_ATTEMPTS = "rostersync.attempts"  # the request extension counting one request's attempts
_READ = httpx.ByteStream(b"")  # the stream of an answer whose body was read (see `_get`)

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class CollectionStats:
    """What pulling one collection cost: HTTP requests sent, retries among them, pages, records
    handed on, and restarts from offset 0 after the count did not add up."""

    requests: int = 0
    retries: int = 0
    pages: int = 0
    records: int = 0
    restarts: int = 0


@dataclass(slots=True)
class ClientStats:
    """Counters per collection; `stats["users"].pages`, or the totals across collections."""

    collections: dict[str, CollectionStats] = field(default_factory=dict)

    def __getitem__(self, collection: str) -> CollectionStats:
        return self.collections.setdefault(collection, CollectionStats())

    @property
    def requests(self) -> int:
        """HTTP requests sent, retries included."""
        return sum(s.requests for s in self.collections.values())

    @property
    def retries(self) -> int:
        """Requests that were repeats of a failed one."""
        return sum(s.retries for s in self.collections.values())

    @property
    def pages(self) -> int:
        """Pages received and parsed."""
        return sum(s.pages for s in self.collections.values())

    @property
    def restarts(self) -> int:
        """Collection pulls started again from offset 0."""
        return sum(s.restarts for s in self.collections.values())


def _quiet_library_loggers() -> None:
    # httpx logs every request URL at INFO, query and so filter values (names) included, and
    # oauthlib logs signature base strings at DEBUG. We sign ourselves and write our own lines.
    for name in ("httpx", "httpcore", "oauthlib"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


class OneRosterClient(PooledHttp):
    """Reads OneRoster 1.1 collections from one district's server.

    Use it as a context manager so its connection pool is closed:

        with OneRosterClient(url, OAuth1Auth(key, secret)) as client:
            for raw in client.iter_collection("users"):
                ...

    Args:
        base_url: The OneRoster root, e.g. `https://x-tx-v2.rosterserver.com/ims/oneroster/v1p1`.
        auth: Signs each request (`OAuth1Auth`, or any `SourceAuth`).
        page_size: `limit` sent with every page (1 to 10,000).
        timeout: Seconds for each of connect/read/write/pool.
        max_retries: Retries of one request after a retriable failure (0 disables retrying).
        backoff_base: First backoff ceiling in seconds; it doubles per retry.
        backoff_cap: The highest backoff ceiling; the wait is uniform in [0, ceiling] (full jitter).
        max_retry_after: The longest `Retry-After` we wait inside a sync; a longer one fails the
            request as retriable at once rather than holding the worker.
        max_pages: Pages one collection may take before the pull is declared runaway.
        page_concurrency: Requests in flight at once, at most, over every pull of this client;
            with more than 1, a collection whose first page gives a total has its other pages
            fetched side by side (`page_spans`).
        max_restarts: How often one collection is pulled again from offset 0 when its count did
            not add up (each restart costs the pages already fetched again). With 0, pages are
            handed on as they arrive and a count that does not add up fails the pull; otherwise
            each collection is held back until it arrived whole (see `held_pages`).
        transport: An httpx transport, e.g. `httpx.MockTransport` in tests.
        sleep: How to wait between retries (injected by tests).
        rng: Randomness for the jitter (seeded by tests).

    Raises:
        ConfigError: The base URL or page size is unusable.
    """

    def __init__(
        self,
        base_url: str,
        auth: SourceAuth,
        *,
        page_size: int = 1000,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 300.0,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_restarts: int = 1,
        page_concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"OneRoster base URL {base_url!r} is not an http(s) URL with a host; it looks "
                "like https://<tenant>.rosterserver.com/ims/oneroster/v1p1"
            )
        if parts.query or parts.fragment:
            raise ConfigError(
                "the OneRoster base URL must not carry a query or fragment; give the API root "
                "only, e.g. https://<tenant>.rosterserver.com/ims/oneroster/v1p1"
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        if max_retries < 0:
            raise ConfigError("max_retries must not be negative")
        if page_concurrency < 1:
            raise ConfigError(f"page concurrency must be at least 1, not {page_concurrency}")
        self.base_url = base_url.rstrip("/")
        self.host = parts.hostname
        self.page_size = page_size
        self.stats = ClientStats()
        self._auth = auth
        self._max_pages = max_pages
        self._max_restarts = max(0, max_restarts)
        self.page_concurrency = page_concurrency
        self._slots = threading.BoundedSemaphore(page_concurrency)
        self._stats_lock = threading.Lock()
        policy = RetryPolicy(
            max_retries, backoff_base, backoff_cap, max_retry_after, sleep, rng or random.Random()
        )
        inner = _CountedAttempts(transport or httpx.HTTPTransport())
        self._retry = RetryTransport(inner, policy, self._judge)
        _quiet_library_loggers()
        self._http = open_http(timeout=timeout, transport=self._retry)

    def __repr__(self) -> str:
        return f"OneRosterClient({self.base_url!r}, auth={self._auth!r})"

    def iter_collection(
        self,
        collection: str,
        *,
        filter: str | None = None,
        on_page: Callable[[int], None] | None = None,
        held: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a collection, pages sorted by `sourcedId` so offsets stay stable.

        While a restart is possible (`max_restarts`), pages are held back and yielded only once
        the last arrived and the count added up; a restart discards them and starts from offset
        0. Without restarts, each page is yielded once checked: the pull is whole only when
        iteration ends normally.

        Args:
            collection: `users`, `students`, `teachers`, `orgs`, `schools`, `academicSessions`,
                `terms`, `gradingPeriods`, `courses`, `classes`, `enrollments`, `demographics`.
            filter: A OneRoster filter expression, e.g. `dateLastModified>'2024-01-01T00:00:00Z'`.
            on_page: Called after each page with the records received so far in this pass
                (from 0 again after a restart): progress while pages are held.
            held: False yields each page as it arrives, without restarts, for a caller that
                reads only the start (Test connection): one page costs one request.

        Raises:
            ValueError: The collection is not one of the above.
            SourceAuthError: The server refused the credentials.
            RetriableSourceError: 429/5xx/transport failures outlived the retries.
            FatalSourceError: Any other refusal, or a body that is not the expected envelope.
            IncompleteSourceError: The records do not add up to the reported total (also after
                a restart), or paging ran away.
        """
        keys = ENVELOPES.get(collection)
        if keys is None:
            known = ", ".join(sorted(ENVELOPES))
            raise ValueError(f"unknown OneRoster collection {collection!r}; use one of {known}")
        # Checked here, eagerly; the pages are fetched by the generator, lazily.
        return self._records(collection, keys, filter, on_page, held, held and self._max_restarts)

    @property
    def max_restarts(self) -> int:
        """How often a collection whose count did not add up is pulled again from offset 0."""
        return self._max_restarts

    def iter_pass(
        self, collection: str, *, filter: str | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """One pass over a collection from offset 0, page by page as `iter_collection` fetches
        them (side by side when the server gives a total), nothing held back: for a caller that
        holds the pages itself and starts again on a `CountMismatch` (`max_restarts` times).

        Raises:
            As `iter_collection`; `CountMismatch` when the count did not add up, after the pages
            of the pass were handed on.
        """
        keys = ENVELOPES.get(collection)
        if keys is None:
            known = ", ".join(sorted(ENVELOPES))
            raise ValueError(f"unknown OneRoster collection {collection!r}; use one of {known}")
        stats = self.stats[collection]
        for page in self._walk(collection, keys, filter, None, True):
            with self._stats_lock:
                stats.records += len(page)
            yield page

    def note_restart(self, collection: str, restart: int) -> None:
        """Count a pass of `collection` started again from offset 0 (by `iter_pass`'s caller)."""
        with self._stats_lock:
            self.stats[collection].restarts += 1
        log.info("oneroster.restart", collection=collection, restart=restart)

    def _records(
        self,
        collection: str,
        keys: tuple[str, ...],
        filter: str | None,
        on_page: Callable[[int], None] | None,
        side_by_side: bool,
        restarts: int,
    ) -> Iterator[dict[str, Any]]:
        stats = self.stats[collection]

        def walk() -> Iterator[list[dict[str, Any]]]:
            return self._walk(collection, keys, filter, on_page, side_by_side)

        def restarted(restart: int) -> None:
            self.note_restart(collection, restart)

        # Without restarts, pages go on as they arrive; with them, once the collection is whole.
        pages = whole_pages(walk, collection, restarts, restarted) if restarts else walk()
        for page in pages:
            stats.records += len(page)
            yield from page

    def _walk(
        self,
        collection: str,
        keys: tuple[str, ...],
        filter: str | None,
        on_page: Callable[[int], None] | None,
        side_by_side: bool,
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of one pass from offset 0, checked; raises if the pass was not whole.

        The first page is fetched alone. When it gives a total and ends where the next page
        starts, and `side_by_side` allows, the rest is fetched side by side (`page_spans`);
        otherwise page after page, as `Paginator.advance` says.
        """
        collection_url = f"{self.base_url}/{collection}"
        paginator = Paginator(
            collection, limit=self.page_size, base_url=collection_url, max_pages=self._max_pages
        )
        fetch = partial(self._page, collection, keys, filter, collection_url)
        items, headers = fetch(0)
        offset = paginator.advance(items, headers)
        spans = None
        if (
            side_by_side
            and self.page_concurrency > 1
            and offset is not None
            and paginator.total is not None
            and offset == len(items)
        ):
            spans = paginator.spans(len(items))
        while True:
            if offset is None:
                paginator.check_complete()
            if on_page is not None:
                on_page(paginator.received)
            yield items
            if offset is None or spans is not None:
                break
            items, headers = fetch(offset)
            offset = paginator.advance(items, headers)
        if spans is not None:
            workers = min(self.page_concurrency, len(spans))
            yield from fetch_spans(fetch, spans, paginator, workers=workers, on_page=on_page)
            paginator.check_complete()
        log.debug("oneroster.collection", collection=collection, count=paginator.received)

    def _page(
        self,
        collection: str,
        keys: tuple[str, ...],
        filter: str | None,
        collection_url: str,
        offset: int,
    ) -> tuple[list[dict[str, Any]], httpx.Headers]:
        """One page at `offset`, its envelope checked: its records and the answer's headers."""
        params = [
            ("limit", str(self.page_size)),
            ("offset", str(offset)),
            ("sort", "sourcedId"),
            ("orderBy", "asc"),
        ]
        if filter:
            params.append(("filter", filter))
        url = oauth1.build_url(collection_url, params)
        response, body = self._send(url, collection=collection)
        items = self._page_items(response, body, collection, keys, offset)
        with self._stats_lock:
            stats = self.stats[collection]
            stats.pages += 1
            page = stats.pages
        log.debug("oneroster.page", collection=collection, page=page, count=len(items))
        return items, response.headers

    def _send(self, url: str, *, collection: str) -> tuple[httpx.Response, object]:
        stats = self.stats[collection]
        auth = self._auth if isinstance(self._auth, RefreshableAuth) else None
        try:
            return self._get(url, stats)
        except SourceAuthError as failure:
            if auth is None:
                raise
            if failure.status != 401:
                raise auth.explain(failure) from None
        # An expired token or a rotated bearer: get a fresh one once, then resend.
        with self._stats_lock:
            stats.retries += 1
        log.info("oneroster.auth_refresh", collection=collection)
        auth.refresh()
        try:
            return self._get(url, stats)
        except SourceAuthError as failure:
            raise auth.explain(failure) from None

    def _get(self, url: str, stats: CollectionStats) -> tuple[httpx.Response, object]:
        """One GET through the retry transport, signed afresh per attempt (a resent nonce would
        be rejected as a replay), in one of the client's `page_concurrency` slots; its attempts
        are counted in `stats`."""
        sign = partial(self._auth.headers_for, "GET", url)
        attempts: list[int] = []  # one entry per attempt (`_CountedAttempts`)
        try:
            with self._slots:
                response = self._http.get(
                    url, extensions={ATTEMPT_HEADERS: sign, _ATTEMPTS: attempts}
                )
        except httpx.HTTPError as exc:
            raise FatalSourceError(
                f"GET {urlsplit(url).path} on {self.host} could not be sent "
                f"({type(exc).__name__}); check the district's OneRoster base URL",
                url=urlsplit(url).path,
            ) from exc
        finally:
            with self._stats_lock:
                stats.requests += len(attempts)
                stats.retries += max(0, len(attempts) - 1)
        body = response.extensions.pop(_BODY)
        # httpx binds an answer and its stream to each other, a reference cycle. A run pauses
        # the cyclic collector (`pipeline._no_cyclic_gc`), so every page's answer, its bytes
        # and its decoded body would stay in memory to the end of the run: cut the cycle.
        response.stream = _READ
        return response, body

    def _judge(self, response: httpx.Response) -> SourceError | None:
        """`classify_response`, then a 2xx body decoded by msgspec (`page_json`), kept in the
        response's extensions."""
        verdict = classify_response(response)
        if verdict is None:
            response.extensions[_BODY], verdict = decode_page(response, self.host)
        return verdict

    def _page_items(
        self,
        response: httpx.Response,
        body: object,
        collection: str,
        keys: tuple[str, ...],
        offset: int,
    ) -> list[dict[str, Any]]:
        path = response.request.url.path
        where = f"{self.host} answered GET {path} (offset {offset})"
        if not isinstance(body, dict):
            raise FatalSourceError(
                f"{where} with JSON that is not an object; expected {{{keys[0]!r}: [...]}}",
                url=path,
                status=response.status_code,
            )
        key = next((k for k in keys if k in body), None)
        if key is None:
            found = ", ".join(sorted(body)[:10]) or "none"
            raise FatalSourceError(
                f"{where} without the {keys[0]!r} list (keys found: {found})",
                url=path,
                status=response.status_code,
            )
        items = body[key]
        if not isinstance(items, list):
            raise FatalSourceError(
                f"{where} with {key!r} that is not a list", url=path, status=response.status_code
            )
        for position, item in enumerate(items):
            if not isinstance(item, dict):
                raise FatalSourceError(
                    f"{where} with record {offset + position} of {collection} that is not a JSON "
                    "object",
                    url=path,
                    status=response.status_code,
                )
        # A 1.1 server answers a bad sort field with 200 and a warning; unsorted offset paging can
        # skip or repeat records, so say so (codes only: they hold no personal data).
        codes = [c for c in status_info(body).code_minor if c.replace(" ", "") != "fullsuccess"]
        if codes:
            log.warning("oneroster.source_warning", collection=collection, code_minor=codes)
        return items


class _CountedAttempts(httpx.BaseTransport):
    """Counts each attempt of a request in its `_ATTEMPTS` extension, then sends it through
    `inner`: per request, so the attempts of pages fetched side by side are told apart."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempts: list[int] | None = request.extensions.get(_ATTEMPTS)
        if attempts is not None:
            attempts.append(1)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
