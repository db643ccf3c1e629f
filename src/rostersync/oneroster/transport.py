"""Retries for roster requests: one httpx transport around whichever transport sends them.

    RetryTransport(inner, RetryPolicy(...), judge)
      per attempt: fresh headers (`ATTEMPT_HEADERS`) → inner.handle_request → read the body
                   → judge: None (success) or a `SourceError`
      a `RetriableSourceError` (or a timeout, a network or protocol failure) is tried again after
      the server's `Retry-After` or else a full-jitter backoff; any other verdict is raised at once

`inner` is the outbound guard (`outbound.guarded_transport`) in production and a fake server in
tests: the guard still vets every connection, and its refusals are never retried. A signed request
is signed afresh per attempt through the `ATTEMPT_HEADERS` request extension (a resent nonce would
be rejected as a replay). Requests go out one at a time, as soon as the last answer (or the wait
after it) allows.

    BudgetTransport(guard, budget, district)      (inside RetryTransport, around the guard)
      per attempt: budget.take(host, district) → inner.handle_request → turn.finish() (also
                   when it fails); a 429 or 503 with `Retry-After` closes the host for every
                   worker (`budget.close`)

The shared budget (`oneroster.budget`, decisions 0029 and 0037) is what keeps a fleet of workers
within a roster server's rate limit; its refusal is a `RetriableSourceError` with status 429, not
retried here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import structlog

from rostersync.errors import RetriableSourceError, SourceError
from rostersync.oneroster.budget import DEFAULT_LEASE, RosterBudget
from rostersync.oneroster.budget_slots import lease_of

__all__ = [
    "ATTEMPT_HEADERS",
    "CLOSING_STATUSES",
    "RETRIABLE_TRANSPORT_ERRORS",
    "BudgetTransport",
    "Judge",
    "RetryPolicy",
    "RetryTransport",
    "parse_retry_after",
]

# The request extension holding a `() -> headers` called before every attempt (signing).
ATTEMPT_HEADERS = "rostersync.attempt_headers"
RETRIABLE_TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

# Answers whose `Retry-After` closes the host for every worker.
CLOSING_STATUSES = frozenset({429, 503})
Judge = Callable[[httpx.Response], SourceError | None]
AttemptHeaders = Callable[[], Mapping[str, str]]

log = structlog.get_logger(__name__)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delay-seconds or an HTTP date.

    Args:
        value: The header value, or None when absent.
        now: The current time for HTTP dates (defaults to the system clock).

    Returns:
        Seconds (never negative), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before a failed request is sent again.

    Args:
        max_retries: Retries of one request after a retriable failure (0 disables retrying).
        backoff_base: First backoff ceiling in seconds; it doubles per retry.
        backoff_cap: The highest backoff ceiling; the wait is uniform in [0, ceiling] (full jitter).
        max_retry_after: The longest `Retry-After` waited for; a longer one fails the request as
            retriable at once rather than holding the worker.
        sleep: How to wait (injected by tests).
        rng: Randomness for the jitter (seeded by tests).
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds before retry `attempt + 1`: the server's `Retry-After`, else the backoff."""
        if response is not None:
            asked = parse_retry_after(response.headers.get("Retry-After"))
            if asked is not None:
                return asked
        ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return self.rng.uniform(0.0, ceiling)


def _attempt(request: httpx.Request) -> httpx.Request:
    # A new request per attempt, with the headers `ATTEMPT_HEADERS` gives for it (if any).
    fresh: AttemptHeaders | None = request.extensions.get(ATTEMPT_HEADERS)
    if fresh is None:
        return request
    headers = request.headers.copy()
    headers.update(fresh())
    return httpx.Request(
        request.method,
        request.url,
        headers=headers,
        stream=request.stream,
        extensions=request.extensions,
    )


def _path(url: httpx.URL) -> str:
    # The path as sent (escapes kept, as in the messages of every other failure), no query.
    return url.raw_path.decode("ascii").split("?", 1)[0]


class RetryTransport(httpx.BaseTransport):
    """Sends each request through `inner`, again after a retriable failure (see the module doc).

    `requests` and `retries` count every attempt and every repeat among them.

    Args:
        inner: The transport that sends (the outbound guard, or a test's fake server).
        policy: Retries, backoff and the longest `Retry-After` honoured.
        judge: Sorts an answer (body read, `request` set) into success (None) or an error.
    """

    def __init__(self, inner: httpx.BaseTransport, policy: RetryPolicy, judge: Judge) -> None:
        self.requests = 0
        self.retries = 0
        self._inner = inner
        self._policy = policy
        self._judge = judge

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """The first answer the judge accepts; raises its verdict, or the last retriable one."""
        policy = self._policy
        path = _path(request.url)
        attempt = 0
        while True:
            sent = _attempt(request)
            self.requests += 1
            response: httpx.Response | None = None
            cause: BaseException | None = None
            try:
                response = self._inner.handle_request(sent)
                response.request = sent
                response.read()
            except RETRIABLE_TRANSPORT_ERRORS as exc:
                cause = exc
                failure: SourceError | None = RetriableSourceError(
                    f"{request.url.host} did not answer {request.method} {path} "
                    f"({type(exc).__name__})",
                    url=path,
                )
            else:
                failure = self._judge(response)
            if failure is None:
                assert response is not None
                return response
            if not isinstance(failure, RetriableSourceError):
                raise failure
            if attempt >= policy.max_retries:
                raise RetriableSourceError(
                    f"{failure}; still failing after {attempt} retries. The source may be busy "
                    "or down: the sync can be retried later",
                    url=failure.url,
                    status=failure.status,
                ) from cause
            delay = policy.delay(attempt, response)
            if delay > policy.max_retry_after:
                raise RetriableSourceError(
                    f"{failure}; it asked us to wait {delay:.0f} s, longer than a sync waits "
                    f"({policy.max_retry_after:.0f} s). The sync can be retried after that",
                    url=failure.url,
                    status=failure.status,
                ) from cause
            attempt += 1
            self.retries += 1
            log.info(
                "oneroster.retry",
                path=path,
                status=failure.status,
                attempt=attempt,
                delay=round(delay, 3),
            )
            if response is not None:
                response.close()
            policy.sleep(delay)

    def close(self) -> None:
        """Close the inner transport's connections."""
        self._inner.close()


class BudgetTransport(httpx.BaseTransport):
    """Sends each request through `inner` once `budget` gives the host a turn.

    A 429 or 503 answer with a `Retry-After` closes the host in the budget for that long, so
    every worker's next request to it waits too.

    Args:
        inner: The transport that sends (the outbound guard, or a test's server).
        budget: The budget shared by every transport of this storage.
        district: Whose requests these are: each district has one ticket per host.
    """

    def __init__(self, inner: httpx.BaseTransport, budget: RosterBudget, district: str) -> None:
        self._inner = inner
        self._budget = budget
        self._district = district

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """The inner transport's answer, sent in the host's turn."""
        host = request.url.host
        lease = lease_of(request.extensions.get("timeout"), DEFAULT_LEASE)
        try:
            turn = self._budget.take(host, self._district, lease=lease)
        except RetriableSourceError as refusal:
            refusal.url = _path(request.url)
            raise
        # The request holds its slot until a window after its answer's headers (or its failure).
        with turn:
            response = self._inner.handle_request(request)
        if response.status_code in CLOSING_STATUSES:
            seconds = parse_retry_after(response.headers.get("Retry-After"))
            if seconds:
                self._budget.close(host, seconds)
                log.info("oneroster.host_closed", host=host, seconds=round(seconds, 3))
        return response

    def close(self) -> None:
        """Close the inner transport's connections."""
        self._inner.close()
