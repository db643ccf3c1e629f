"""Faults on demand: make one tenant misbehave the way real Roster Servers do.

A `FaultPlan` hangs on every `Tenant` (`tenant.faults`); it holds `Fault`s, each scoped to a
collection (the first path segment after the base URL, e.g. "users") or to every request, and to
a window of that scope's requests: the `nth` matching request and the `times - 1` after it. Each
fault counts the requests in its own scope, including those another fault answered, so a test
can say exactly which request fails:

    server.set_faults("springfield", throttle(times=3, collection="users", retry_after=0.1))

Kinds (the names `rostersync simulate --fault` accepts):

    429-burst       HTTP 429, with `Retry-After` when `retry_after` is set
    5xx             HTTP `status` (500, 502 or 503) with a status body
    slow            the answer is held back `delay` seconds (past or within the client's timeout)
    cut             headers promise the whole body, half is sent, the connection is closed
    truncate        valid headers for half a body: the JSON is cut off
    wrong-total     `X-Total-Count` is off by `total_delta` from the records served
    change          after the answer is computed, the tenant's data is replaced by `change(data)`
                    (records added or removed between two pages of one pull)
    expired-token   HTTP 401 saying the access token expired; a bearer-token layer may instead
                    read `FaultPlan.token_expired()`

Faults of the first two kinds and `expired-token` answer instead of the endpoint; the others
alter the endpoint's answer. Nothing here touches a socket: the server reads `Response.delay`
and `Response.delivery`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rostersync.simulator.district import DistrictData
from rostersync.simulator.response import Response, failure

if TYPE_CHECKING:
    from rostersync.simulator.tenant import Tenant

__all__ = [
    "KINDS",
    "Fault",
    "FaultPlan",
    "change_mid_pull",
    "cut_mid_body",
    "expired_token",
    "parse_fault",
    "server_error",
    "slow",
    "throttle",
    "truncated_json",
    "wrong_total",
]

KINDS = (
    "429-burst",
    "5xx",
    "slow",
    "cut",
    "truncate",
    "wrong-total",
    "change",
    "expired-token",
)
# Kinds that answer in place of the endpoint; the rest change the endpoint's own answer.
_REFUSING = frozenset({"429-burst", "5xx", "expired-token"})

Change = Callable[[DistrictData], DistrictData]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One misbehaviour and the requests it applies to.

    Attributes:
        kind: One of `KINDS`.
        collection: Only requests to this endpoint (`users`, `schools`, …); None means all.
            A relationship path counts under its first segment: `/classes/{id}/students` is
            a `classes` request.
        nth: The first matching request affected, counting from 1.
        times: How many consecutive matching requests are affected.
        status: The status of a `5xx` fault.
        retry_after: Seconds sent in `Retry-After` by a `429-burst`; None sends no header.
        delay: Seconds a `slow` answer is held back.
        total_delta: Added to the true total by `wrong-total`.
        change: The data transformation of a `change` fault.
    """

    kind: str
    collection: str | None = None
    nth: int = 1
    times: int = 1
    status: int = 503
    retry_after: float | None = None
    delay: float = 1.0
    total_delta: int = 5
    change: Change | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.nth < 1 or self.times < 1:
            raise ValueError("nth and times must be at least 1")
        if self.kind == "5xx" and not 500 <= self.status <= 599:
            raise ValueError(f"a 5xx fault needs a status from 500 to 599, not {self.status}")
        if self.kind == "change" and self.change is None:
            raise ValueError("a change fault needs the change to make")

    def covers(self, position: int) -> bool:
        """Whether the `position`-th matching request (from 1) is affected."""
        return self.nth <= position < self.nth + self.times


def throttle(
    *, times: int = 3, retry_after: float | None = None, collection: str | None = None, nth: int = 1
) -> Fault:
    """A burst of HTTP 429, with `Retry-After: retry_after` when given."""
    return Fault(
        kind="429-burst", times=times, retry_after=retry_after, collection=collection, nth=nth
    )


def server_error(
    status: int = 503, *, times: int = 1, collection: str | None = None, nth: int = 1
) -> Fault:
    """HTTP `status` (500, 502, 503, …) with a 1.1 status body."""
    return Fault(kind="5xx", status=status, times=times, collection=collection, nth=nth)


def slow(delay: float, *, times: int = 1, collection: str | None = None, nth: int = 1) -> Fault:
    """Answers held back `delay` seconds before the status line is sent."""
    return Fault(kind="slow", delay=delay, times=times, collection=collection, nth=nth)


def cut_mid_body(*, times: int = 1, collection: str | None = None, nth: int = 1) -> Fault:
    """The connection closes after half the body that `Content-Length` announced."""
    return Fault(kind="cut", times=times, collection=collection, nth=nth)


def truncated_json(*, times: int = 1, collection: str | None = None, nth: int = 1) -> Fault:
    """A complete HTTP answer whose JSON body stops halfway."""
    return Fault(kind="truncate", times=times, collection=collection, nth=nth)


def wrong_total(
    delta: int = 5, *, times: int = 1, collection: str | None = None, nth: int = 1
) -> Fault:
    """`X-Total-Count` reports `delta` more (or, negative, fewer) records than there are."""
    return Fault(kind="wrong-total", total_delta=delta, times=times, collection=collection, nth=nth)


def change_mid_pull(
    change: Change, *, collection: str | None = None, nth: int = 1, times: int = 1
) -> Fault:
    """Replace the tenant's data with `change(data)` right after the nth page is computed."""
    return Fault(kind="change", change=change, times=times, collection=collection, nth=nth)


def expired_token(*, times: int = 1, collection: str | None = None, nth: int = 1) -> Fault:
    """HTTP 401 `invalid_token`, as a bearer-token server answers once a token has expired."""
    return Fault(kind="expired-token", times=times, collection=collection, nth=nth)


@dataclass(slots=True)
class FaultPlan:
    """The faults a tenant applies, and how often each has fired.

    Thread-safe: the server answers requests from several threads.

    Attributes:
        faults: The faults, consulted in order.
        fired: Per fault kind, how many requests it affected so far.
    """

    faults: list[Fault] = field(default_factory=list)
    fired: dict[str, int] = field(default_factory=dict)
    _seen: list[int] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._seen = [0] * len(self.faults)

    def add(self, fault: Fault) -> None:
        """Apply one more fault, counting its requests from now on."""
        with self._lock:
            self.faults.append(fault)
            self._seen.append(0)

    def clear(self) -> None:
        """Stop misbehaving; the fired counts are kept."""
        with self._lock:
            self.faults.clear()
            self._seen.clear()

    def decide(self, collection: str) -> tuple[Fault, ...]:
        """Count one request to `collection` and return the faults that apply to it."""
        with self._lock:
            firing: list[Fault] = []
            for index, fault in enumerate(self.faults):
                if fault.collection is not None and fault.collection != collection:
                    continue
                self._seen[index] += 1
                if fault.covers(self._seen[index]):
                    firing.append(fault)
                    self.fired[fault.kind] = self.fired.get(fault.kind, 0) + 1
            return tuple(firing)

    def token_expired(self, collection: str) -> bool:
        """For a bearer-token layer: count one request and say whether its token has expired.

        Only `expired-token` faults are consulted and counted, so a layer that calls this and
        then `decide` sees each fault count the request once.
        """
        with self._lock:
            expired = False
            for index, fault in enumerate(self.faults):
                if fault.kind != "expired-token":
                    continue
                if fault.collection is not None and fault.collection != collection:
                    continue
                self._seen[index] += 1
                if fault.covers(self._seen[index]):
                    self.fired[fault.kind] = self.fired.get(fault.kind, 0) + 1
                    expired = True
            return expired


def refusal(firing: Sequence[Fault]) -> Response | None:
    """The answer that replaces the endpoint's, if one of the firing faults refuses the request."""
    for fault in firing:
        if fault.kind == "429-burst":
            headers = []
            if fault.retry_after is not None:
                headers.append(("Retry-After", f"{fault.retry_after:g}"))
            return failure(429, "server_busy", "too many requests; slow down", headers)
        if fault.kind == "5xx":
            return failure(fault.status, "internal_server_error", "the roster server failed")
        if fault.kind == "expired-token":
            challenge = ("WWW-Authenticate", 'Bearer error="invalid_token"')
            return failure(401, "unauthorized", "the access token has expired", [challenge])
    return None


def deliver(firing: Sequence[Fault], response: Response, tenant: Tenant) -> Response:
    """Alter the endpoint's answer as the firing faults say; a `change` replaces tenant data."""
    for fault in firing:
        if fault.kind == "slow":
            response = dataclasses.replace(response, delay=response.delay + fault.delay)
        elif fault.kind == "cut":
            response = dataclasses.replace(response, delivery="cut")
        elif fault.kind == "truncate":
            response = dataclasses.replace(response, delivery="truncated")
        elif fault.kind == "wrong-total":
            response = dataclasses.replace(
                response, headers=_shift_total(response.headers, fault.total_delta)
            )
        elif fault.kind == "change" and fault.change is not None:
            # The page already answered was cut from the old data; the next page sees the new.
            tenant.data = fault.change(tenant.data)
    return response


def _shift_total(headers: Iterable[tuple[str, str]], delta: int) -> list[tuple[str, str]]:
    shifted = []
    for name, value in headers:
        if name.lower() == "x-total-count" and value.isdigit():
            value = str(max(0, int(value) + delta))
        shifted.append((name, value))
    return shifted


def parse_fault(spec: str) -> Fault:
    """Read a command-line fault: `KIND[:key=value,…]`.

    Keys are the `Fault` attributes `collection`, `nth`, `times`, `status`, `retry_after`,
    `delay` and `total_delta`; `500`, `502` and `503` are accepted as kinds meaning `5xx` with
    that status. A `change` fault cannot be given here (it needs code).

    Examples: `429-burst:times=5,retry_after=2`, `503:collection=users,nth=2`, `slow:delay=45`.

    Raises:
        ValueError: The spec names an unknown kind or key, or a value is not a number.
    """
    kind, _, rest = spec.strip().partition(":")
    options: dict[str, object] = {}
    if kind.isdigit():
        options["status"] = int(kind)
        kind = "5xx"
    if kind == "change":
        raise ValueError("a change fault needs a data change written in code; use the API")
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not equals:
            raise ValueError(f"fault option {item!r} must be key=value")
        if key == "collection":
            options[key] = value.strip()
        elif key in ("nth", "times", "status", "total_delta"):
            options[key] = int(value)
        elif key in ("retry_after", "delay"):
            options[key] = float(value)
        else:
            raise ValueError(
                f"unknown fault option {key!r}; use collection, nth, times, status, "
                "retry_after, delay or total_delta"
            )
    return Fault(kind=kind, **options)  # type: ignore[arg-type]
