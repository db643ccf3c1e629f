"""The shared request budget holds where it counts: at the server, in any window of its clock
(decision 0037).

A loopback HTTP server stamps each request's arrival. Workers take turns and then send their
request after a random 0–300 ms (a busy machine's drift between the turn and the arrival, which
made a budget counted at the turn overrun at the server). No window of the budget's length may
hold more arrivals than its limit: in one process on memory, and in two processes on Redis.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection

import httpx
import pytest
import redis
from tests.integration.redis_queue import REDIS_URL, own_queue

from rostersync.oneroster.budget import (
    Allowance,
    MemoryClosures,
    RedisClosures,
    RosterBudget,
)
from rostersync.oneroster.budget_slots import MemorySlots, RedisSlots
from rostersync.oneroster.transport import BudgetTransport

# Five requests per half second: short windows keep the test short, the bound is the same.
ALLOWANCE = Allowance(5, 0.5)
DRIFT = 0.3


class Stamps(ThreadingHTTPServer):
    """Answers every GET at once, noting when it arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Stamp)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ims/oneroster/v1p1/users"


class _Stamp(BaseHTTPRequestHandler):
    server: Stamps

    def do_GET(self) -> None:
        arrived = time.time()
        with self.server.lock:
            self.server.arrivals.append(arrived)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Stamps]:
    stamps = Stamps()
    thread = threading.Thread(target=stamps.serve_forever, daemon=True)
    thread.start()
    yield stamps
    stamps.shutdown()
    stamps.server_close()


class Drifting(httpx.BaseTransport):
    """Sends each request a random 0–300 ms after its turn (the drift of a loaded machine)."""

    def __init__(self, seed: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._rng = random.Random(seed)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self._rng.uniform(0.0, DRIFT))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def pull(budget: RosterBudget, url: str, district: str, requests: int, seed: int) -> None:
    """One district's requests, one after another, within `budget`."""
    transport = BudgetTransport(Drifting(seed), budget, district)
    with httpx.Client(transport=transport, timeout=10) as client:
        for _ in range(requests):
            client.get(url).raise_for_status()


def pull_in_threads(budget: RosterBudget, url: str, districts: list[str], requests: int) -> None:
    threads = [
        threading.Thread(target=pull, args=(budget, url, district, requests, seed))
        for seed, district in enumerate(districts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive()


def busiest(arrivals: list[float], window: float) -> int:
    """The most arrivals in any window [t, t + window) of the server's clock."""
    stamps = sorted(arrivals)
    most, first = 0, 0
    for last, stamp in enumerate(stamps):
        while stamp - stamps[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_threads_whose_requests_drift_never_exceed_the_budget_at_the_server(
    server: Stamps,
) -> None:
    budget = RosterBudget(MemorySlots(time.time), ALLOWANCE, MemoryClosures(), max_wait=60)
    districts = [f"district-{n}" for n in range(6)]
    pull_in_threads(budget, server.url, districts, requests=5)
    assert len(server.arrivals) == 30
    assert busiest(server.arrivals, ALLOWANCE.window) <= ALLOWANCE.limit
    # The budget was used, not merely idle: some window held the whole limit.
    assert busiest(server.arrivals, 4 * ALLOWANCE.window) > ALLOWANCE.limit


@pytest.fixture
def queue() -> Iterator[str]:
    yield from own_queue("rostersync-budget-server")


def redis_budget(queue: str, *, allowance: Allowance = ALLOWANCE) -> RosterBudget:
    """A worker's budget on the shared Redis, with the keys `shared_budget` uses."""
    client = redis.Redis.from_url(REDIS_URL)
    return RosterBudget(
        RedisSlots(client, f"{queue}:roster"),
        allowance,
        RedisClosures(client, f"{queue}:roster", clock=time.time),
        max_wait=60,
    )


def worker_process(queue: str, url: str, districts: list[str], requests: int) -> None:
    """A worker process: its districts' requests, each on a thread, within the Redis budget."""
    pull_in_threads(redis_budget(queue), url, districts, requests)


def test_two_processes_whose_requests_drift_never_exceed_the_budget_at_the_server(
    server: Stamps, queue: str
) -> None:
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(
            target=worker_process,
            args=(queue, server.url, [f"p{n}-district-{d}" for d in range(3)], 5),
        )
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert len(server.arrivals) == 30
    assert busiest(server.arrivals, ALLOWANCE.window) <= ALLOWANCE.limit
    assert busiest(server.arrivals, 4 * ALLOWANCE.window) > ALLOWANCE.limit


def hold_a_turn(queue: str, lease: float, told: Connection) -> None:
    """Take a turn and never finish it (the process is killed while its request is out)."""
    redis_budget(queue, allowance=Allowance(1, 0.5)).take("roster.example.org", "a", lease=lease)
    told.send(time.time())
    threading.Event().wait()


def test_a_killed_workers_request_frees_its_slot_when_its_lease_runs_out(queue: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    holder = spawn.Process(target=hold_a_turn, args=(queue, 1.0, theirs))
    holder.start()
    try:
        assert ours.poll(60)
        taken = ours.recv()
    finally:
        holder.kill()
        holder.join(30)
    # The only slot is the killed worker's: the next turn comes once its lease (1 s) and one
    # window (0.5 s) have passed from its turn, not before and not never.
    with redis_budget(queue, allowance=Allowance(1, 0.5)).turn("roster.example.org", "b") as turn:
        came = time.time()
    assert turn.waited > 0
    assert came >= taken + 1.5 - 0.05
    assert came < taken + 1.5 + 5
