"""One request budget per roster-server host, shared by every worker (decision 0029).

    budget.take(host, district)     wait for the host's `Retry-After` closure to end, then for
                                    room in its moving window; raises `RosterBudgetExhausted`
                                    when that would take longer than `max_wait`
    budget.close(host, seconds)     a server said `Retry-After`: every worker waits that long
    budget.listen(hear)             hear each closure and each wait (`BudgetNote`) of this process

The window is counted by the `limits` library in its storage (memory, or Redis when the queue
is on Redis, so every worker on every machine draws from one window); closures are kept beside
it (a dict, or one Redis key per host holding the latest "closed until" time).

A host under one of `shared_domains` (e.g. every `<tenant>.rosterserver.com` under
`rosterserver.com`, when the vendor's limit spans them) draws from that domain's budget instead.

Fair across districts: within a host, each district has one ticket. A district's concurrent
requests queue behind each other for it (a lock per host and district, in this process: a
district's run holds its lock in one process), so under contention every waiting district
competes for the next free request with one request, whatever its size.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NoReturn, Protocol

import redis
import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from rostersync import metrics
from rostersync.errors import RetriableSourceError

__all__ = [
    "BudgetNote",
    "Closures",
    "MemoryClosures",
    "RedisClosures",
    "RosterBudget",
    "RosterBudgetExhausted",
    "per_second",
    "shared_budget",
]

_log = structlog.get_logger(__name__)
# What an unreachable storage raises.
_STORAGE_ERRORS = (StorageError, redis.RedisError)
# The shortest look again at a full window (seconds): a Redis TTL is read in whole seconds.
_SHORTEST_WAIT = 0.005


class RosterBudgetExhausted(RetriableSourceError):
    """No request could be sent to a host within the longest wait: a rate limit, retriable."""


def per_second(rate: float) -> RateLimitItem:
    """The moving window for `rate` requests per second (whole requests; below 1, one request
    per `1 / rate` seconds, rounded)."""
    if rate >= 1:
        return RateLimitItemPerSecond(int(rate), 1)
    return RateLimitItemPerSecond(1, max(1, round(1 / rate)))


class Closures(Protocol):
    """Where "closed until" times (Unix seconds) per host are kept."""

    def close(self, host: str, until: float) -> None:
        """Keep `until` unless a later time is kept already."""

    def until(self, host: str) -> float:
        """The kept time, or 0."""


class MemoryClosures:
    """Closures of this process."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def close(self, host: str, until: float) -> None:
        with self._lock:
            self._until[host] = max(until, self._until.get(host, 0.0))

    def until(self, host: str) -> float:
        with self._lock:
            return self._until.get(host, 0.0)


# Keep the later of the kept and the given time; the key expires a second after it.
_CLOSE_SCRIPT = """
local kept = tonumber(redis.call('get', KEYS[1]) or '0')
if tonumber(ARGV[1]) > kept then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


class RedisClosures:
    """Closures shared through Redis, one key per host under `prefix`."""

    def __init__(self, client: redis.Redis, prefix: str, *, clock: Callable[[], float]) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._script = client.register_script(_CLOSE_SCRIPT)

    def _key(self, host: str) -> str:
        return f"{self._prefix}:closed:{host}"

    def close(self, host: str, until: float) -> None:
        ttl_ms = max(1, math.ceil((until - self._clock() + 1) * 1000))
        self._script(keys=[self._key(host)], args=[repr(until), ttl_ms])

    def until(self, host: str) -> float:
        kept = self._client.get(self._key(host))
        return float(kept) if kept is not None else 0.0


@dataclass(frozen=True, slots=True)
class BudgetNote:
    """A host was closed for `seconds` (`kind="closed"`), or a district's request waited
    `seconds` for its turn (`kind="waited"`, `reason` "closed" or "budget")."""

    kind: str
    host: str
    seconds: float
    district: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class _Wait:
    reason: str  # "closed" (Retry-After) or "budget" (the window is full)
    seconds: float


class RosterBudget:
    """The request budget of every roster-server host, in one storage (see the module doc).

    Args:
        storage: Where the `limits` windows are counted.
        item: The window (requests per period) of each host.
        closures: Where `Retry-After` closures are kept.
        prefix: Namespaces the window keys (the queue's name).
        max_wait: The longest one request waits for its turn, in seconds.
        shared_domains: Domains whose hosts share one budget (and one closure) between them.
        clock: Unix seconds now (injected by tests, as `limits` reads `time.time`).
        sleep: How to wait (injected by tests).
    """

    def __init__(
        self,
        storage: Storage,
        item: RateLimitItem,
        closures: Closures,
        *,
        prefix: str = "rostersync",
        max_wait: float = 300.0,
        shared_domains: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.item = item
        self.shared_domains = tuple(d.strip(".").lower() for d in shared_domains if d.strip("."))
        self.closures = closures
        self.max_wait = max_wait
        self._limiter = MovingWindowRateLimiter(storage)
        self._prefix = prefix
        self._clock = clock
        self._sleep = sleep
        self._tickets: dict[tuple[str, str], threading.Lock] = {}
        self._tickets_lock = threading.Lock()
        self._listeners: list[Callable[[BudgetNote], None]] = []

    def listen(self, hear: Callable[[BudgetNote], None]) -> None:
        """Call `hear` with each closure and wait of this process, on the thread it happens."""
        self._listeners.append(hear)

    def _tell(self, note: BudgetNote) -> None:
        for hear in tuple(self._listeners):
            hear(note)

    def budget_name(self, host: str) -> str:
        """The budget `host` draws from: its shared domain, or the host itself."""
        name = host.lower()
        for domain in self.shared_domains:
            if name == domain or name.endswith(f".{domain}"):
                return domain
        return name

    def _ticket(self, host: str, district: str) -> threading.Lock:
        with self._tickets_lock:
            return self._tickets.setdefault((host, district), threading.Lock())

    def close(self, host: str, seconds: float) -> None:
        """Hold every request to `host`, from every worker, for `seconds` from now."""
        if seconds <= 0:
            return
        host = self.budget_name(host)
        try:
            self.closures.close(host, self._clock() + seconds)
        except _STORAGE_ERRORS as exc:
            # The worker that was answered still waits; the others find out for themselves.
            _log.error("roster_budget.unavailable", host=host, error=type(exc).__name__)
            return
        self._tell(BudgetNote("closed", host, seconds))

    def closed_until(self, host: str) -> float:
        """When `host` may be asked again (Unix seconds; in the past when it is open)."""
        return self.closures.until(self.budget_name(host))

    def take(self, host: str, district: str = "") -> float:
        """Wait for `host`'s turn and count one request against its window.

        Returns:
            The seconds slept waiting (0 when the turn came at once).

        Raises:
            RosterBudgetExhausted: The turn would come later than `max_wait` from now (status
                429, so the run fails as a rate limit and is retried later).
            RetriableSourceError: The budget's storage (Redis) could not be reached.
        """
        host = self.budget_name(host)
        start = self._clock()
        deadline = start + self.max_wait
        waited = 0.0
        ticket = self._ticket(host, district)
        # The district's other request holding the ticket waits at most `max_wait` itself.
        if not ticket.acquire(timeout=self.max_wait):
            self._refuse(host, _Wait("budget", self.max_wait), self.max_wait)
        try:
            while True:
                try:
                    wait = self._next_wait(host)
                except _STORAGE_ERRORS as exc:
                    _log.error("roster_budget.unavailable", host=host, error=type(exc).__name__)
                    raise RetriableSourceError(
                        f"the shared request budget for {host} could not be reached "
                        f"({type(exc).__name__}), so nothing was sent; the sync can be retried "
                        "once it is back"
                    ) from exc
                if wait is None:
                    return waited
                now = self._clock()
                if now + wait.seconds > deadline:
                    self._refuse(host, wait, deadline - start)
                metrics.ROSTER_BUDGET_WAITS.labels(reason=wait.reason).inc()
                metrics.ROSTER_BUDGET_WAIT_SECONDS.labels(reason=wait.reason).inc(wait.seconds)
                self._tell(BudgetNote("waited", host, wait.seconds, district, wait.reason))
                self._sleep(wait.seconds)
                waited += wait.seconds
        finally:
            ticket.release()

    def _next_wait(self, host: str) -> _Wait | None:
        # None once a request to `host` was counted; else how long to wait before looking again.
        now = self._clock()
        closed = self.closures.until(host) - now
        if closed > 0:
            return _Wait("closed", closed)
        if self._limiter.hit(self.item, self._prefix, "roster", host):
            return None
        reset = self._limiter.get_window_stats(self.item, self._prefix, "roster", host).reset_time
        return _Wait("budget", max(_SHORTEST_WAIT, reset - now))

    def _refuse(self, host: str, wait: _Wait, longest: float) -> NoReturn:
        metrics.ROSTER_BUDGET_REFUSALS.labels(reason=wait.reason).inc()
        if wait.reason == "closed":
            when = datetime.fromtimestamp(self.closures.until(host), UTC).strftime("%H:%M:%S")
            message = (
                f"{host} asked every sync to wait until {when} UTC (Retry-After), longer than a "
                f"request waits ({longest:.0f} s); the sync can be retried after that"
            )
        else:
            message = (
                f"the shared request budget for {host} ({self.item}) had no room within "
                f"{longest:.0f} s: other syncs are using it. The sync can be retried later"
            )
        raise RosterBudgetExhausted(message, status=429)


@lru_cache(maxsize=64)
def shared_budget(
    storage_url: str,
    prefix: str,
    rate: float,
    max_wait: float,
    shared_domains: tuple[str, ...] = (),
) -> RosterBudget:
    """This process's budget for one storage and prefix: every transport built for them shares
    it (a memory storage is one per process and prefix; Redis is one for every process)."""
    options: dict[str, Any] = {"wrap_exceptions": True}
    closures: Closures
    if storage_url.startswith("memory"):
        closures = MemoryClosures()
    else:
        options["key_prefix"] = f"{prefix}:limits"
        closures = RedisClosures(
            redis.Redis.from_url(storage_url), f"{prefix}:roster", clock=time.time
        )
    storage = storage_from_string(storage_url, **options)
    assert isinstance(storage, Storage)
    return RosterBudget(
        storage,
        per_second(rate),
        closures,
        prefix=prefix,
        max_wait=max_wait,
        shared_domains=shared_domains,
    )
