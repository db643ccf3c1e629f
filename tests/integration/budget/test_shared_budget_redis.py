"""With the queue on Redis, every worker draws from one request budget per roster-server host and
honours one `Retry-After` closure (decisions 0029 and 0037).

Two workers are two budgets with their own Redis connections, each used from its own thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from tests.integration.redis_queue import REDIS_URL, own_queue

from rostersync.config import Settings
from rostersync.oneroster.budget import (
    Allowance,
    RedisClosures,
    RosterBudget,
    RosterBudgetExhausted,
)
from rostersync.oneroster.budget_slots import RedisSlots
from rostersync.oneroster.transport import BudgetTransport
from rostersync.providers.registry import roster_budget

HOST = "roster.example.org"
URL = f"https://{HOST}/ims/oneroster/v1p1/users"


@pytest.fixture
def queue() -> Iterator[str]:
    yield from own_queue("rostersync-budget-test")


class Clock:
    """The real time, moved on by the sleeps of this worker only (nothing really waits)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


def worker(
    queue: str,
    *,
    allowance: Allowance | None = None,
    max_wait: float = 300.0,
    clock: Clock | None = None,
) -> RosterBudget:
    """A worker's budget on the shared Redis, with the keys `roster_budget` uses."""
    ticks = clock or Clock()
    client = redis.Redis.from_url(REDIS_URL)
    return RosterBudget(
        RedisSlots(client, f"{queue}:roster"),
        allowance or Allowance(3, 60.0),
        RedisClosures(client, f"{queue}:roster", clock=ticks),
        max_wait=max_wait,
        clock=ticks,
        sleep=ticks.sleep,
    )


def in_thread(call: Callable[[], object]) -> object:
    """What `call` returns or raises, run on a thread of its own."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    return outcome[0]


def waited(budget: RosterBudget, host: str, district: str) -> object:
    """What one request's turn waited (it is finished at once), or the refusal."""

    def request() -> float:
        with budget.turn(host, district) as turn:
            return turn.waited

    return in_thread(request)


def test_two_workers_draw_from_one_budget(queue: str) -> None:
    first, second = worker(queue), worker(queue, max_wait=0.5)
    assert waited(first, HOST, "a") == 0
    assert waited(first, HOST, "a") == 0
    assert waited(second, HOST, "b") == 0
    refused = waited(second, HOST, "b")
    assert isinstance(refused, RosterBudgetExhausted)
    assert "shared request budget" in str(refused)
    # Another host has a budget of its own.
    assert waited(second, "other.example.org", "b") == 0


def test_a_retry_after_answered_to_one_worker_holds_the_other(queue: str) -> None:
    sent: list[str] = []

    def busy(request: httpx.Request) -> httpx.Response:
        sent.append("a")
        return httpx.Response(429, headers={"Retry-After": "2"})

    def fine(request: httpx.Request) -> httpx.Response:
        sent.append("b")
        return httpx.Response(200, json={})

    clock_b = Clock()
    first = BudgetTransport(httpx.MockTransport(busy), worker(queue), "a")
    second = BudgetTransport(httpx.MockTransport(fine), worker(queue, clock=clock_b), "b")
    answer = in_thread(lambda: first.handle_request(httpx.Request("GET", URL)))
    assert isinstance(answer, httpx.Response) and answer.status_code == 429
    answer = in_thread(lambda: second.handle_request(httpx.Request("GET", URL)))
    assert isinstance(answer, httpx.Response) and answer.status_code == 200
    assert sent == ["a", "b"]
    # The second worker waited out the first one's closure before it sent.
    assert len(clock_b.sleeps) == 1 and 1.0 < clock_b.sleeps[0] <= 2.0


def test_a_closure_longer_than_a_worker_waits_fails_its_request_without_sending(
    queue: str,
) -> None:
    first = worker(queue)
    first.close(HOST, 120)
    called: list[str] = []

    def never(request: httpx.Request) -> httpx.Response:
        called.append("b")
        return httpx.Response(200)

    second = BudgetTransport(httpx.MockTransport(never), worker(queue, max_wait=5), "b")
    refused = in_thread(lambda: second.handle_request(httpx.Request("GET", URL)))
    assert isinstance(refused, RosterBudgetExhausted) and refused.status == 429
    assert "Retry-After" in str(refused)
    assert called == []


def test_the_settings_put_the_budget_in_redis_when_the_queue_is_there(
    queue: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, queue_backend="redis", redis_url=REDIS_URL, queue_name=queue
    )
    roster_budget(settings).close(HOST, 60)
    assert worker(queue).closed_until(HOST) > time.time() + 50
