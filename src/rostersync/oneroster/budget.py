"""One request budget per roster-server host, shared by every worker (decisions 0029, 0037).

    with budget.turn(host, district):  wait for the host's `Retry-After` closure to end, then
        send the request                for a free slot; the request holds its slot until one
                                        window after it finished (also when it failed)
    budget.take(host, district)        the same as a `Turn` to `finish()` (always, `finally`);
                                        raises `RosterBudgetExhausted` when the turn would come
                                        later than `max_wait`
    budget.close(host, seconds)        a server said `Retry-After`: every worker waits that long
    budget.listen(hear)                hear each closure and each wait (`BudgetNote`) here

Why one window after the request finished: a server counts a request when it arrives, which may
be well after the worker took its turn (a busy machine, a slow connection). A turn is given only
while fewer than `limit` requests are in flight or finished less than one window ago, so any
window of the server's clock sees at most `limit` arrivals: when the last of them took its turn,
every other one had taken its own and had not finished a window before.

The slots are kept in memory or in Redis when the queue is on Redis (`oneroster.budget_slots`, so
every worker on every machine draws from one budget); closures are kept beside them (a dict, or
one Redis key per host holding the latest "closed until" time).

A host under one of `shared_domains` (e.g. every `<tenant>.rosterserver.com` under
`rosterserver.com`, when the vendor's limit spans them) draws from that domain's budget instead.

Fair across districts: within a host, each district has one ticket. A district's concurrent
requests queue behind each other for it until their turn (a lock per host and district, in this
process: a district's run holds its lock in one process), so under contention every waiting
district competes for the next free slot with one request, whatever its size.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import NoReturn, Protocol, Self

import redis
import structlog

from rostersync import metrics
from rostersync.errors import RetriableSourceError
from rostersync.oneroster.budget_slots import MemorySlots, RedisSlots, Slots

__all__ = [
    "DEFAULT_LEASE",
    "Allowance",
    "BudgetNote",
    "Closures",
    "MemoryClosures",
    "RedisClosures",
    "RosterBudget",
    "RosterBudgetExhausted",
    "Turn",
    "per_second",
    "shared_budget",
]

_log = structlog.get_logger(__name__)
# What an unreachable storage raises.
_STORAGE_ERRORS = (redis.RedisError, ConnectionError)
# The shortest look again at a full budget (seconds).
_SHORTEST_WAIT = 0.005
# How long a request whose timeouts are unbounded may hold its slot unfinished (its lease).
DEFAULT_LEASE = 300.0


class RosterBudgetExhausted(RetriableSourceError):
    """No request could be sent to a host within the longest wait: a rate limit, retriable."""


@dataclass(frozen=True, slots=True)
class Allowance:
    """`limit` requests per `window` seconds, counted as the module doc says."""

    limit: int
    window: float

    def __str__(self) -> str:
        return f"{self.limit} per {self.window:g} s"


def per_second(rate: float) -> Allowance:
    """The allowance for `rate` requests per second (whole requests; below 1, one request per
    `1 / rate` seconds, rounded)."""
    if rate >= 1:
        return Allowance(int(rate), 1.0)
    return Allowance(1, float(max(1, round(1 / rate))))


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


@dataclass(slots=True)
class Turn:
    """A request's slot in its host's budget: `finish()` once it is answered or failed (a
    context manager finishes on leaving). `waited` is the seconds slept before the turn came."""

    waited: float
    _finish: Callable[[], None] = field(repr=False)
    _done: bool = field(default=False, repr=False)

    def finish(self) -> None:
        """The request is over: its slot counts for one more window, then frees (once only)."""
        if not self._done:
            self._done = True
            self._finish()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


@dataclass(frozen=True, slots=True)
class _Wait:
    reason: str  # "closed" (Retry-After) or "budget" (every slot is taken)
    seconds: float


class RosterBudget:
    """The request budget of every roster-server host, in one storage (see the module doc).

    Args:
        slots: Where the requests of each host's budget are counted.
        allowance: The requests per window of each host.
        closures: Where `Retry-After` closures are kept.
        max_wait: The longest one request waits for its turn, in seconds.
        shared_domains: Domains whose hosts share one budget (and one closure) between them.
        clock: Unix seconds now (injected by tests; memory slots count on the same clock).
        sleep: How to wait (injected by tests).
    """

    def __init__(
        self,
        slots: Slots,
        allowance: Allowance,
        closures: Closures,
        *,
        max_wait: float = 300.0,
        shared_domains: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.allowance = allowance
        self.shared_domains = tuple(d.strip(".").lower() for d in shared_domains if d.strip("."))
        self.closures = closures
        self.max_wait = max_wait
        self._slots = slots
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

    @contextmanager
    def turn(
        self, host: str, district: str = "", *, lease: float = DEFAULT_LEASE
    ) -> Iterator[Turn]:
        """`take` as a context manager: the request is finished on leaving, however it ends."""
        with self.take(host, district, lease=lease) as taken:
            yield taken

    def take(self, host: str, district: str = "", *, lease: float = DEFAULT_LEASE) -> Turn:
        """Wait for `host`'s turn and count one request in flight against its budget.

        Args:
            host: The roster server the request goes to.
            district: Whose request it is (one ticket per district and host).
            lease: The longest the request can stay unanswered (its timeouts): unfinished, it
                holds its slot until then plus one window (a killed worker's requests).

        Returns:
            The turn, to `finish()` once the request is answered or failed.

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
                    wait, token = self._next_wait(host, lease)
                except _STORAGE_ERRORS as exc:
                    _log.error("roster_budget.unavailable", host=host, error=type(exc).__name__)
                    raise RetriableSourceError(
                        f"the shared request budget for {host} could not be reached "
                        f"({type(exc).__name__}), so nothing was sent; the sync can be retried "
                        "once it is back"
                    ) from exc
                if wait is None:
                    return Turn(waited, partial(self._finish, host, token))
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

    def _next_wait(self, host: str, lease: float) -> tuple[_Wait | None, str]:
        # (None, token) once a request to `host` was counted; else how long to wait first.
        closed = self.closures.until(host) - self._clock()
        if closed > 0:
            return _Wait("closed", closed), ""
        limit, window = self.allowance.limit, self.allowance.window
        admission = self._slots.take(host, limit, window, lease)
        if admission.token:
            return None, admission.token
        return _Wait("budget", max(_SHORTEST_WAIT, admission.wait)), ""

    def _finish(self, host: str, token: str) -> None:
        try:
            self._slots.finish(host, token, self.allowance.window)
        except _STORAGE_ERRORS as exc:
            # The slot stays taken until its lease runs out: the budget errs on the safe side.
            _log.error("roster_budget.unavailable", host=host, error=type(exc).__name__)

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
                f"the shared request budget for {host} ({self.allowance}) had no room within "
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
    it (memory is one per process and prefix; Redis, at a `redis://` URL, one for every process)."""
    slots: Slots
    closures: Closures
    if storage_url.startswith("memory"):
        slots, closures = MemorySlots(time.time), MemoryClosures()
    else:
        client = redis.Redis.from_url(storage_url)
        slots = RedisSlots(client, f"{prefix}:roster")
        closures = RedisClosures(client, f"{prefix}:roster", clock=time.time)
    return RosterBudget(
        slots,
        per_second(rate),
        closures,
        max_wait=max_wait,
        shared_domains=shared_domains,
    )
