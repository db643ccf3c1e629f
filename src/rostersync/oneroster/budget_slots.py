"""Where the shared request budget counts its requests (decision 0037): memory or Redis.

A request occupies one of its budget's `limit` slots from the moment it takes its turn until one
`window` after it finished (its answer's headers arrived, or it failed). Until it finishes it is
"in flight" and holds its slot at most until its lease (the turn's time + `lease` seconds) has
run out, plus the window, so a killed worker's requests free themselves.

    slots.take(name, limit, window, lease)  an `Admission`: a token when the request was counted
                                            (in flight + finished within the window < limit),
                                            else the seconds until a slot can free at the soonest
    slots.finish(name, token, window)       the request is done: it counts for one more window

Each entry is kept with the time it stops counting; entries whose time has come are dropped
before counting. In Redis, one sorted set per budget for requests in flight and one for finished
ones, changed only by two Lua scripts on Redis's own clock (`TIME`), so every worker on every
machine counts on one clock.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

__all__ = ["Admission", "MemorySlots", "RedisSlots", "Slots", "lease_of"]


@dataclass(frozen=True, slots=True)
class Admission:
    """`token` when the request was counted (`wait` 0), else "" and the seconds to wait at least
    before asking again."""

    token: str
    wait: float


class Slots(Protocol):
    """The requests of every budget: in flight, or finished less than a window ago."""

    def take(self, name: str, limit: int, window: float, lease: float) -> Admission:
        """Count a request in flight when fewer than `limit` are counted, else say how long."""

    def finish(self, name: str, token: str, window: float) -> None:
        """The request of `token` finished now: count it for one more `window`."""


class MemorySlots:
    """The slots of this process, on `clock` (Unix seconds)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # Budget → token → when the entry stops counting (lease end + window, or end + window).
        self._flying: dict[str, dict[str, float]] = {}
        self._done: dict[str, dict[str, float]] = {}

    def take(self, name: str, limit: int, window: float, lease: float) -> Admission:
        with self._lock:
            now = self._clock()
            flying = _current(self._flying.setdefault(name, {}), now)
            done = _current(self._done.setdefault(name, {}), now)
            self._flying[name], self._done[name] = flying, done
            if len(flying) + len(done) < limit:
                token = uuid.uuid4().hex
                flying[token] = now + lease + window
                return Admission(token, 0.0)
            soonest = min([now + window, *flying.values(), *done.values()])
            return Admission("", soonest - now)

    def finish(self, name: str, token: str, window: float) -> None:
        with self._lock:
            self._flying.get(name, {}).pop(token, None)
            self._done.setdefault(name, {})[token] = self._clock() + window


def _current(entries: dict[str, float], now: float) -> dict[str, float]:
    # The entries that still count at `now` (an entry stops counting at its time).
    return {token: until for token, until in entries.items() if until > now}


# KEYS: in flight, finished. ARGV: limit, window, lease, token. Returns {1, "0"} when counted,
# else {0, seconds until the soonest entry stops counting (at most one window)}.
_TAKE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local limit, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) < limit then
  redis.call('ZADD', KEYS[1], now + lease + window, ARGV[4])
  local keep = math.ceil((lease + window) * 1000) + 1000
  if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
  return {1, '0'}
end
local soonest = now + window
for _, key in ipairs(KEYS) do
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] and tonumber(first[2]) < soonest then soonest = tonumber(first[2]) end
end
return {0, tostring(soonest - now)}
"""

# KEYS: in flight, finished. ARGV: token, window.
_FINISH_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local window = tonumber(ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now + window, ARGV[1])
local keep = math.ceil(window * 1000) + 1000
if redis.call('PTTL', KEYS[2]) < keep then redis.call('PEXPIRE', KEYS[2], keep) end
return 1
"""


class RedisSlots:
    """The slots of every worker, in Redis under `prefix` (two sorted sets per budget)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._prefix = prefix
        self._take = client.register_script(_TAKE_SCRIPT)
        self._finish = client.register_script(_FINISH_SCRIPT)

    def _keys(self, name: str) -> list[str]:
        return [f"{self._prefix}:flying:{name}", f"{self._prefix}:done:{name}"]

    def take(self, name: str, limit: int, window: float, lease: float) -> Admission:
        token = uuid.uuid4().hex
        counted, wait = self._take(
            keys=self._keys(name), args=[limit, repr(window), repr(lease), token]
        )
        if int(counted):
            return Admission(token, 0.0)
        return Admission("", float(wait))

    def finish(self, name: str, token: str, window: float) -> None:
        self._finish(keys=self._keys(name), args=[token, repr(window)])


def lease_of(timeouts: object, default: float) -> float:
    """The longest a request can stay unanswered under httpx's `timeout` extension (its pool,
    connect, write and read timeouts, each bounding one step); `default` when any is unbounded."""
    if not isinstance(timeouts, dict):
        return default
    steps = [timeouts.get(step) for step in ("pool", "connect", "write", "read")]
    if any(not isinstance(step, int | float) or math.isinf(step) for step in steps):
        return default
    return float(sum(step for step in steps if isinstance(step, int | float)))
