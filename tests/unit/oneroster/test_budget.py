"""The shared request budget, in memory, on an injected clock: no test waits for real time."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest
import redis

from rostersync import metrics
from rostersync.errors import RetriableSourceError
from rostersync.oneroster.budget import (
    Allowance,
    BudgetNote,
    MemoryClosures,
    RosterBudget,
    RosterBudgetExhausted,
    per_second,
)
from rostersync.oneroster.budget_slots import MemorySlots, lease_of
from rostersync.oneroster.transport import BudgetTransport

HOST = "roster.example.org"


class Clock:
    """Unix seconds that move only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def budget(
    clock: Clock,
    rate: int = 2,
    *,
    max_wait: float = 300.0,
    sleep: Callable[[float], None] | None = None,
) -> RosterBudget:
    return RosterBudget(
        MemorySlots(clock),
        Allowance(rate, 1.0),
        MemoryClosures(),
        max_wait=max_wait,
        clock=clock,
        sleep=sleep or clock.sleep,
    )


def waits(reason: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "rostersync_roster_budget_waits_total", {"reason": reason}
    )
    return value or 0.0


def test_requests_within_the_budget_go_at_once_and_the_next_waits_for_room(clock: Clock) -> None:
    shared = budget(clock, rate=2)
    before = waits("budget")
    with shared.turn(HOST, "a") as first, shared.turn(HOST, "b") as second:
        assert first.waited == second.waited == 0
    clock.now += 0.25  # both were answered; each counts until a window after its answer
    waited = shared.take(HOST, "a").waited
    assert waited == pytest.approx(0.75, abs=0.01)
    assert sum(clock.sleeps) == pytest.approx(0.75, abs=0.01)
    assert waits("budget") > before


def test_a_request_in_flight_holds_its_slot_until_a_window_after_its_answer(clock: Clock) -> None:
    # Its turn came at 0 and it has not arrived at the server yet: nothing else may go, however
    # long ago its turn was, or the server could see it together with a full window of others.
    shared = budget(clock, rate=1, max_wait=10)
    slow = shared.take(HOST, "a", lease=30)
    clock.now += 5
    with pytest.raises(RosterBudgetExhausted):
        shared.take(HOST, "b")
    slow.finish()
    clock.sleeps.clear()
    assert shared.take(HOST, "b").waited == pytest.approx(1.0)


def test_a_request_never_finished_frees_its_slot_when_its_lease_and_a_window_ran_out(
    clock: Clock,
) -> None:
    # A worker killed mid-request never finishes it: its lease (its timeouts) bounds the hold.
    shared = budget(clock, rate=1, max_wait=60)
    shared.take(HOST, "killed", lease=20)
    assert shared.take(HOST, "b").waited == pytest.approx(21.0)


def test_the_lease_is_the_sum_of_the_request_timeouts_or_the_default_when_unbounded() -> None:
    timeouts = httpx.Timeout(5.0, connect=2.0).as_dict()
    assert lease_of(timeouts, 300.0) == 17.0  # pool, connect, write, read
    assert lease_of(httpx.Timeout(None).as_dict(), 300.0) == 300.0
    assert lease_of(None, 300.0) == 300.0


def test_each_host_has_its_own_budget(clock: Clock) -> None:
    shared = budget(clock, rate=1)
    shared.take(HOST, "a")
    assert shared.take("other.example.org", "a").waited == 0
    assert clock.sleeps == []


def test_a_closed_host_holds_every_district_until_the_time_it_asked_for(clock: Clock) -> None:
    shared = budget(clock)
    notes: list[BudgetNote] = []
    shared.listen(notes.append)
    shared.close(HOST, 30)
    assert shared.closed_until(HOST) == clock.now + 30
    assert shared.take(HOST, "a").waited == pytest.approx(30)
    assert notes == [
        BudgetNote("closed", HOST, 30),
        BudgetNote("waited", HOST, 30, "a", "closed"),
    ]
    assert shared.take(HOST, "b").waited == 0


def test_a_later_closure_is_kept_over_an_earlier_one(clock: Clock) -> None:
    shared = budget(clock)
    shared.close(HOST, 60)
    shared.close(HOST, 5)
    assert shared.closed_until(HOST) == clock.now + 60


def test_a_closure_longer_than_the_longest_wait_fails_at_once_as_a_rate_limit(
    clock: Clock,
) -> None:
    shared = budget(clock, max_wait=10)
    shared.close(HOST, 3600)
    with pytest.raises(RosterBudgetExhausted) as refused:
        shared.take(HOST, "a")
    assert isinstance(refused.value, RetriableSourceError)
    assert refused.value.status == 429
    assert "Retry-After" in str(refused.value) and "retried" in str(refused.value)
    assert clock.sleeps == []


def test_a_budget_that_stays_full_past_the_longest_wait_fails_the_request(clock: Clock) -> None:
    shared = budget(clock, rate=1, max_wait=0.5)
    shared.take(HOST, "a").finish()
    with pytest.raises(RosterBudgetExhausted, match=r"budget for .* \(1 per 1 s\) had no room"):
        shared.take(HOST, "b")


def test_a_rate_below_one_per_second_is_one_request_per_period() -> None:
    assert per_second(0.2) == Allowance(1, 5.0)
    assert per_second(50) == Allowance(50, 1.0)


def test_a_district_waiting_for_its_turn_does_not_hold_another_district_back(
    clock: Clock,
) -> None:
    # Each district has its own ticket: while "big" waits in its sleep, "small" reaches its own.
    entered = {"big": threading.Event(), "small": threading.Event()}
    release = threading.Event()

    def sleep(seconds: float) -> None:
        entered[threading.current_thread().name].set()
        assert release.wait(10)
        clock.sleep(seconds)

    shared = budget(clock, rate=1, sleep=sleep)
    shared.take(HOST, "warm-up").finish()
    threads = [
        threading.Thread(target=lambda name=name: shared.take(HOST, name).finish(), name=name)
        for name in ("big", "small")
    ]
    threads[0].start()
    assert entered["big"].wait(10)
    threads[1].start()
    assert entered["small"].wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


class TestTheTransport:
    def test_a_429_with_retry_after_closes_the_host_for_every_district(self, clock: Clock) -> None:
        shared = budget(clock)
        sent: list[str] = []

        def busy(request: httpx.Request) -> httpx.Response:
            sent.append("a")
            return httpx.Response(429, headers={"Retry-After": "7"})

        def fine(request: httpx.Request) -> httpx.Response:
            sent.append("b")
            return httpx.Response(200, json={})

        first = BudgetTransport(httpx.MockTransport(busy), shared, "a")
        other = BudgetTransport(httpx.MockTransport(fine), shared, "b")
        url = f"https://{HOST}/ims/oneroster/v1p1/users"
        assert first.handle_request(httpx.Request("GET", url)).status_code == 429
        assert shared.closed_until(HOST) == clock.now + 7
        assert other.handle_request(httpx.Request("GET", url)).status_code == 200
        assert sent == ["a", "b"]
        assert clock.sleeps == [7]

    def test_a_503_without_retry_after_closes_nothing(self, clock: Clock) -> None:
        shared = budget(clock)
        transport = BudgetTransport(
            httpx.MockTransport(lambda request: httpx.Response(503)), shared, "a"
        )
        transport.handle_request(httpx.Request("GET", f"https://{HOST}/x"))
        assert shared.closed_until(HOST) == 0

    def test_a_request_that_failed_frees_its_slot_a_window_after_it_failed(
        self, clock: Clock
    ) -> None:
        shared = budget(clock, rate=1)

        def down(request: httpx.Request) -> httpx.Response:
            clock.now += 2  # the connection took two seconds to fail
            raise httpx.ConnectError("refused", request=request)

        transport = BudgetTransport(httpx.MockTransport(down), shared, "a")
        with pytest.raises(httpx.ConnectError):
            transport.handle_request(httpx.Request("GET", f"https://{HOST}/x"))
        # Not its lease (the request's timeouts): one window from its failure.
        assert shared.take(HOST, "b").waited == pytest.approx(1.0)

    def test_the_slot_is_held_from_the_turn_to_a_window_after_the_answer(
        self, clock: Clock
    ) -> None:
        shared = budget(clock, rate=1, max_wait=0.5)
        refused: list[BaseException] = []

        def slow(request: httpx.Request) -> httpx.Response:
            # While this request is on its way, another district gets no turn.
            with pytest.raises(RosterBudgetExhausted) as other:
                shared.take(HOST, "b")
            refused.append(other.value)
            clock.now += 3
            return httpx.Response(200)

        transport = BudgetTransport(httpx.MockTransport(slow), shared, "a")
        transport.handle_request(httpx.Request("GET", f"https://{HOST}/x"))
        assert len(refused) == 1
        clock.now += 0.4
        with pytest.raises(RosterBudgetExhausted):
            shared.take(HOST, "b")
        clock.now += 0.7
        assert shared.take(HOST, "b").waited == 0

    def test_a_refused_turn_names_the_path(self, clock: Clock) -> None:
        shared = budget(clock, max_wait=1)
        shared.close(HOST, 60)
        transport = BudgetTransport(
            httpx.MockTransport(lambda request: httpx.Response(200)), shared, "a"
        )
        with pytest.raises(RosterBudgetExhausted) as refused:
            transport.handle_request(httpx.Request("GET", f"https://{HOST}/v1p1/users?limit=5"))
        assert refused.value.url == "/v1p1/users"


class Unreachable(MemoryClosures):
    def until(self, host: str) -> float:
        raise redis.ConnectionError("down")

    def close(self, host: str, until: float) -> None:
        raise redis.ConnectionError("down")


def test_an_unreachable_storage_fails_the_request_as_retriable_and_sends_nothing(
    clock: Clock,
) -> None:
    shared = RosterBudget(
        MemorySlots(clock), Allowance(2, 1.0), Unreachable(), clock=clock, sleep=clock.sleep
    )
    shared.close(HOST, 30)  # logged; the answered worker still waits on its own
    with pytest.raises(RetriableSourceError, match="could not be reached") as refused:
        shared.take(HOST, "a")
    assert not isinstance(refused.value, RosterBudgetExhausted)


def test_hosts_under_a_shared_domain_draw_from_one_budget_and_one_closure(clock: Clock) -> None:
    shared = RosterBudget(
        MemorySlots(clock),
        Allowance(1, 1.0),
        MemoryClosures(),
        max_wait=0.5,
        shared_domains=("rosterserver.com",),
        clock=clock,
        sleep=clock.sleep,
    )
    assert shared.budget_name("Springfield.RosterServer.com") == "rosterserver.com"
    assert shared.budget_name("rosterserver.com.example.org") == "rosterserver.com.example.org"
    shared.take("springfield.rosterserver.com", "a").finish()
    with pytest.raises(RosterBudgetExhausted, match=r"budget for rosterserver\.com"):
        shared.take("shelbyville.rosterserver.com", "b")
    shared.close("springfield.rosterserver.com", 30)
    assert shared.closed_until("shelbyville.rosterserver.com") == clock.now + 30
    assert shared.closed_until("roster.example.org") == 0
