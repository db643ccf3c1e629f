"""Clever's district-app tokens and Data API v3.1, read over HTTP.

    CleverApp(oauth_url, client_id, client_secret)
      .tokens()                   GET {oauth_url}/oauth/tokens?owner_type=district, HTTP Basic with
                                  the app's client id and secret: every district sharing with us
      .token_for(district_id)     that district's bearer, or a `SourceAuthError` saying it has not
                                  shared with the app
    CleverClient(api_url, bearer, renew=…)
      .pages("users")             GET {api_url}/v3.1/users?limit=…, then each `links` rel=next uri
                                  (`starting_after=…`) until a page has none; a refused (401)
                                  bearer is renewed once through `renew`

Every request goes through `transport.RetryTransport` around the transport it is handed (the
outbound guard within the shared request budget): 429 and 5xx are retried after `Retry-After` or
a backoff, JSON that breaks off is asked again and, still broken, fails the pull as incomplete.
The app's secret goes only to the OAuth URL, the bearer only to the API URL; a next link that
leaves the API's origin is refused. No secret, token or query string reaches a log line, a `repr`
or a message.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx
import structlog

from rostersync.errors import (
    ConfigError,
    FatalSourceError,
    IncompleteSourceError,
    RetriableSourceError,
    SourceAuthError,
    SourceError,
)
from rostersync.oneroster.answers import classify_response
from rostersync.oneroster.http import PooledHttp, open_http
from rostersync.oneroster.page_json import decode_page
from rostersync.oneroster.transport import RetryPolicy, RetryTransport

__all__ = [
    "API_VERSION",
    "CLEVER_API_URL",
    "CLEVER_OAUTH_URL",
    "MAX_PAGE_SIZE",
    "CleverApp",
    "CleverClient",
    "DistrictToken",
]

CLEVER_API_URL = "https://api.clever.com"
CLEVER_OAUTH_URL = "https://clever.com"
API_VERSION = "v3.1"
MAX_PAGE_SIZE = 10_000  # Clever's ceiling for `limit`
_MAX_PAGES = 100_000
_BODY = "rostersync.clever.json"
_TOKENS_PATH = "/oauth/tokens"

log = structlog.get_logger(__name__)


_READ = httpx.ByteStream(b"")  # the stream of an answer whose body was read (`_get_json`)


def _origin(url: str, what: str, env: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the {what} {url!r} is not an http(s) URL with a host; set {env}")
    return url.rstrip("/")


def _judged(host: str) -> Callable[[httpx.Response], SourceError | None]:
    """`classify_response` (429 and 5xx retriable, 401/403 refused), in Clever's words where
    OneRoster's would mislead, then the JSON body decoded (JSON that breaks off is retriable)."""

    def judge(response: httpx.Response) -> SourceError | None:
        path = response.request.url.path
        if 300 <= response.status_code < 400:
            # A redirect would carry a secret or a token to an address we did not choose.
            return FatalSourceError(
                f"Clever ({host}) redirected GET {path} (HTTP {response.status_code}); set the "
                "Clever URLs (ROSTERSYNC_CLEVER_API_URL, ROSTERSYNC_CLEVER_OAUTH_URL) to the "
                "addresses themselves",
                url=path,
                status=response.status_code,
            )
        verdict = classify_response(response)
        if verdict is None:
            try:
                response.extensions[_BODY], verdict = decode_page(response, host)
            except FatalSourceError:
                return FatalSourceError(
                    f"Clever ({host}) answered GET {path} with a body that is not JSON; check "
                    "the Clever URLs in the vendor's settings",
                    url=path,
                    status=response.status_code,
                )
        return verdict

    return judge


def _retrying(
    transport: httpx.BaseTransport | None,
    host: str,
    max_retries: int,
    backoff_base: float,
    sleep: Callable[[float], None],
) -> RetryTransport:
    policy = RetryPolicy(max_retries, backoff_base, 30.0, 300.0, sleep, random.Random())
    return RetryTransport(transport or httpx.HTTPTransport(), policy, _judged(host))


def _links_next(body: dict[str, Any]) -> str | None:
    links = body.get("links")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("rel") == "next":
            uri = link.get("uri")
            return uri if isinstance(uri, str) and uri else None
    return None


@dataclass(frozen=True, slots=True)
class DistrictToken:
    """One district's grant to the app: its Clever district id and its bearer token."""

    district_id: str
    token: str = field(repr=False)


class _Reader(PooledHttp):
    """What both readers share: a retrying connection pool to one origin, and GET of JSON."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        max_retries: int,
        backoff_base: float,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.base_url = base_url
        self.host = urlsplit(base_url).hostname or ""
        self._retry = _retrying(transport, self.host, max_retries, backoff_base, sleep)
        self._http = open_http(timeout=timeout, transport=self._retry)

    @property
    def requests(self) -> int:
        """HTTP requests sent, retries included."""
        return self._retry.requests

    @property
    def retries(self) -> int:
        """Requests that were repeats of a failed one."""
        return self._retry.retries

    def _get_json(self, url: str, headers: dict[str, str]) -> tuple[httpx.Response, object]:
        path = urlsplit(url).path
        try:
            response = self._http.get(url, headers=headers)
        except RetriableSourceError as failure:
            cut = isinstance(failure.__cause__, httpx.RemoteProtocolError)
            if cut or (failure.status is not None and 200 <= failure.status < 300):
                # An answer whose body broke off (its JSON, or the connection) every time it was
                # asked: the page never arrived whole, so neither did its collection.
                raise IncompleteSourceError(
                    f"{failure}; the collection did not arrive whole, so nothing was changed",
                    url=path,
                    status=failure.status,
                ) from None
            raise
        except httpx.HTTPError as exc:
            raise FatalSourceError(
                f"GET {path} on {self.host} could not be sent ({type(exc).__name__}); check "
                "the Clever URLs in the vendor's settings",
                url=path,
            ) from exc
        body = response.extensions.pop(_BODY, None)
        # httpx binds an answer and its stream to each other, a reference cycle; a run pauses the
        # cyclic collector, so each page's answer would stay in memory to the run's end: cut it.
        response.stream = _READ
        return response, body


class CleverApp(_Reader):
    """The app's district-app tokens, read with its client id and secret (vendor settings).

    Args:
        oauth_url: Clever's OAuth origin (`https://clever.com`); the secret goes nowhere else.
        client_id: The app's client id.
        client_secret: The app's client secret.
        timeout: Seconds per request.
        max_retries: Retries of one request after a 429, 5xx or network failure.
        transport: The transport requests go through (the guard within the shared budget).

    Raises:
        ConfigError: The URL, the id or the secret is unusable.
    """

    def __init__(
        self,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "the Clever app's client id and secret are not set: set "
                "ROSTERSYNC_CLEVER_CLIENT_ID and ROSTERSYNC_CLEVER_CLIENT_SECRET (from the "
                "Clever app dashboard)"
            )
        origin = _origin(oauth_url, "Clever OAuth URL", "ROSTERSYNC_CLEVER_OAUTH_URL")
        super().__init__(
            origin,
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            transport=transport,
            sleep=sleep,
        )
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._authorization = f"Basic {basic}"
        self._tokens: list[DistrictToken] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CleverApp({self.base_url!r}, client_secret='***')"

    def tokens(self, *, refresh: bool = False) -> list[DistrictToken]:
        """Every district-app token granted to the app, read once and cached.

        Raises:
            SourceAuthError: Clever refused the app's client id or secret.
            RetriableSourceError: Clever was unreachable or answered 429/5xx past the retries.
            FatalSourceError: Clever answered something that is not the token list.
        """
        with self._lock:
            if self._tokens is None or refresh:
                self._tokens = self._read_tokens()
            return list(self._tokens)

    def token_for(self, district_id: str, *, refresh: bool = False) -> DistrictToken:
        """The token of the district whose Clever id is `district_id`.

        Raises:
            SourceAuthError: The district has not shared its data with the app.
        """
        wanted = district_id.strip().lower()  # ObjectIDs are hexadecimal, in any case
        for token in self.tokens(refresh=refresh):
            if token.district_id.lower() == wanted:
                return token
        raise SourceAuthError(
            f"the district {district_id!r} has not shared with the app in Clever (no "
            "district-app token for it): ask the district to add and share the app in its Clever "
            "dashboard, and check the Clever district id in the district's settings",
            credential="district sharing",
            url=_TOKENS_PATH,
        )

    def _read_tokens(self) -> list[DistrictToken]:
        found: list[DistrictToken] = []
        url: str | None = f"{self.base_url}{_TOKENS_PATH}?owner_type=district"
        for _page in range(_MAX_PAGES):
            if url is None:
                return found
            body = self._read_page(url)
            rows = body.get("data")
            if not isinstance(rows, list):
                raise FatalSourceError(
                    f"Clever ({self.host}) answered GET {_TOKENS_PATH} without a token list; "
                    "check ROSTERSYNC_CLEVER_OAUTH_URL",
                    url=_TOKENS_PATH,
                )
            for row in rows:
                token = _district_token(row)
                if token is not None:
                    found.append(token)
            after = _links_next(body)
            url = None if after is None else _same_origin(self.base_url, after, _TOKENS_PATH)
        raise FatalSourceError(
            f"Clever ({self.host}) did not stop paging {_TOKENS_PATH} after {_MAX_PAGES} pages",
            url=_TOKENS_PATH,
        )

    def _read_page(self, url: str) -> dict[str, Any]:
        try:
            _response, body = self._get_json(url, {"Authorization": self._authorization})
        except SourceAuthError as refused:
            raise SourceAuthError(
                f"Clever ({self.host}) refused the app's client id or secret (HTTP "
                f"{refused.status}); check ROSTERSYNC_CLEVER_CLIENT_ID and "
                "ROSTERSYNC_CLEVER_CLIENT_SECRET against the Clever app dashboard",
                credential="Clever app secret",
                url=_TOKENS_PATH,
                status=refused.status,
            ) from None
        if not isinstance(body, dict):
            raise FatalSourceError(
                f"Clever ({self.host}) answered GET {_TOKENS_PATH} with JSON that is not an "
                "object; check ROSTERSYNC_CLEVER_OAUTH_URL",
                url=_TOKENS_PATH,
            )
        return body


def _district_token(row: object) -> DistrictToken | None:
    if not isinstance(row, dict):
        return None
    owner = row.get("owner")
    token = row.get("access_token")
    if not isinstance(owner, dict) or not isinstance(token, str) or not token:
        return None
    if owner.get("type", "district") != "district":
        return None
    district = owner.get("id")
    return DistrictToken(str(district).strip(), token) if district else None


def _same_origin(base_url: str, uri: str, path: str) -> str:
    """A `links` uri made absolute against `base_url`; refused if it leaves its origin."""
    url = urljoin(base_url + "/", uri)
    here, there = urlsplit(base_url), urlsplit(url)
    if (here.scheme, here.netloc) != (there.scheme, there.netloc):
        raise FatalSourceError(
            f"Clever's next link for {path} points at {there.netloc}, not {here.netloc}; "
            "rostersync sends the district's token nowhere else",
            url=path,
        )
    return url


class CleverClient(_Reader):
    """Reads one district's Data API collections with its district-app token.

    Args:
        api_url: Clever's API origin (`https://api.clever.com`).
        token: The district's bearer token; "" asks `renew` for it before the first request,
            so that building a client sends nothing.
        renew: Called once when the token is refused (401), for the district's current token;
            None fails at once.
        page_size: `limit` sent with every page (1 to 10,000).
        timeout, max_retries, backoff_base, transport, sleep: As `CleverApp`.

    Raises:
        ConfigError: The URL or page size is unusable.
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        renew: Callable[[], str] | None = None,
        page_size: int = 1000,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        origin = _origin(api_url, "Clever API URL", "ROSTERSYNC_CLEVER_API_URL")
        super().__init__(
            origin,
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            transport=transport,
            sleep=sleep,
        )
        self.page_size = page_size
        self._token = token
        self._renew = renew
        self._renewals = 0

    def __repr__(self) -> str:
        return f"CleverClient({self.base_url!r}, token='***')"

    @property
    def retries(self) -> int:
        """Requests that were repeats of a failed one, a resend with a renewed token included."""
        return self._retry.retries + self._renewals

    def district(self) -> dict[str, Any]:
        """The district the token belongs to (`GET /v3.1/districts`, one record).

        Raises:
            As `pages`.
        """
        for page in self.pages("districts"):
            for item in page:
                return item
        return {}

    def pages(
        self, collection: str, query: Mapping[str, str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of a collection (`districts`, `schools`, `terms`, `courses`, `sections`,
        `users`, `events`), following the `next` links until a page has none. `query` is sent
        with the first page (e.g. `starting_after` for events); the next links carry their own.

        Raises:
            SourceAuthError: The district's token was refused, also after renewing it.
            RetriableSourceError: 429/5xx/network failures outlived the retries.
            IncompleteSourceError: A page never arrived whole, or the paging did not advance.
            FatalSourceError: Any other refusal, or a body that is not a Clever list.
        """
        path = f"/{API_VERSION}/{collection}"
        first = {"limit": str(self.page_size), **(query or {})}
        url: str | None = f"{self.base_url}{path}?{urlencode(first)}"
        seen: set[str] = set()
        received = 0
        for _page in range(_MAX_PAGES):
            if url is None:
                log.debug("clever.collection", collection=collection, count=received)
                return
            body = self._page(url, path)
            items = [_record(item, path) for item in _items(body, self.host, path)]
            received += len(items)
            yield items
            after = _links_next(body)
            if after is None:
                url = None
                continue
            url = self._next(after, path)
            if url in seen:
                raise IncompleteSourceError(
                    f"Clever ({self.host}) sent the same next page of {path} twice after "
                    f"{received} records; the collection did not arrive whole, so nothing was "
                    "changed",
                    url=path,
                )
            seen.add(url)
        raise IncompleteSourceError(
            f"Clever ({self.host}) did not stop paging {path} after {_MAX_PAGES} pages",
            url=path,
        )

    def _next(self, uri: str, path: str) -> str:
        url = _same_origin(self.base_url, uri, path)
        # Keep our page size even if the link leaves `limit` out.
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if "limit" not in query:
            url += ("&" if parts.query else "?") + urlencode({"limit": self.page_size})
        return url

    def _page(self, url: str, path: str) -> dict[str, Any]:
        if not self._token:
            if self._renew is None:
                raise ConfigError("a Clever client needs the district's token or a way to get it")
            self._token = self._renew()
        try:
            _response, body = self._get_json(url, self._bearer())
        except SourceAuthError as refused:
            if self._renew is None or refused.status != 401:
                raise self._refused(refused) from None
            log.info("clever.token_renew", path=path)
            self._token = self._renew()
            self._renewals += 1
            try:
                _response, body = self._get_json(url, self._bearer())
            except SourceAuthError as again:
                raise self._refused(again) from None
        if not isinstance(body, dict):
            raise FatalSourceError(
                f"Clever ({self.host}) answered GET {path} with JSON that is not an object",
                url=path,
            )
        return body

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _refused(self, refused: SourceAuthError) -> SourceAuthError:
        return SourceAuthError(
            f"Clever ({self.host}) refused the district's token for GET {refused.url} (HTTP "
            f"{refused.status}): the district may have disconnected the app or revoked its "
            "sharing in Clever; ask it to share the app again, then sync",
            credential="district token",
            url=refused.url,
            status=refused.status,
        )


def _items(body: dict[str, Any], host: str, path: str) -> list[object]:
    items = body.get("data")
    if not isinstance(items, list):
        found = ", ".join(sorted(body)[:10]) or "none"
        raise FatalSourceError(
            f"Clever ({host}) answered GET {path} without a 'data' list (keys found: {found})",
            url=path,
        )
    return items


def _record(item: object, path: str) -> dict[str, Any]:
    # A list item is `{"data": {...}, "uri": "/v3.1/…"}`.
    inner = item.get("data") if isinstance(item, dict) else None
    record = inner if isinstance(inner, dict) else item
    if not isinstance(record, dict):
        raise FatalSourceError(
            f"Clever answered GET {path} with an item that is not a JSON object", url=path
        )
    return record
