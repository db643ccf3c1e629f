"""Pages fetched side by side (decision 0032): the same records as page after page, never more
requests in flight than the district's bound, within the shared budget, and a page that fails
fails the whole pull. Over real HTTP to the loopback simulator, which counts what it serves."""

from __future__ import annotations

import copy
import gc
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rostersync.errors import IncompleteSourceError, RetriableSourceError
from rostersync.oneroster.auth import OAuth1Auth
from rostersync.oneroster.budget import shared_budget
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.transport import BudgetTransport
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district
from rostersync.simulator import faults as f
from rostersync.simulator.response import Response

TENANT, KEY, SECRET = "springfield", "pages-key", "pages-secret-8Rt"
PAGE_SIZE = 9
COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")


class InFlight:
    """The simulator's request handling, counted: how many requests it is answering at once
    (the most at any time), and when each arrived. Each answer takes `latency` seconds, as a
    distant server's would, so requests a client sends together overlap here."""

    def __init__(self, router: Any, latency: float) -> None:
        self._router, self._latency = router, latency
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.now = 0
        self.peak = 0
        self.arrivals: list[float] = []
        # When set, a request is held (up to `gather_seconds`) until this many are in flight, so
        # a client that sends that many together shows it whatever the machine's load.
        self.gather = 0
        self.gather_seconds = 1.0

    def handle(self, *args: Any) -> Response:
        with self._changed:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.arrivals.append(time.monotonic())
            self._changed.notify_all()
            if self.gather:
                self._changed.wait_for(lambda: self.now >= self.gather, self.gather_seconds)
        try:
            threading.Event().wait(self._latency)  # the server's own latency
            answer: Response = self._router.handle(*args)
            return answer
        finally:
            with self._changed:
                self.now -= 1


class CountingSimulator(SimulatorServer):
    """The simulator, its request handling wrapped in `InFlight`."""

    def __init__(self, tenants: list[Tenant], latency: float) -> None:
        super().__init__(tenants)
        self._latency = latency
        self.in_flight: InFlight | None = None

    def _make_httpd(self) -> Any:
        httpd = super()._make_httpd()
        self.in_flight = httpd.router = InFlight(httpd.router, self._latency)
        return httpd


@pytest.fixture(scope="module")
def district() -> DistrictData:
    return generate_district(students=60, seed=29)


def serve(district: DistrictData, *, latency: float = 0.0, quirks: bool = False) -> Any:
    tenant = Tenant(TENANT, copy.deepcopy(district), KEY, SECRET, quirks=quirks)
    return CountingSimulator([tenant], latency)


@pytest.fixture
def server(district: DistrictData) -> Iterator[CountingSimulator]:
    with serve(district, latency=0.02) as running:
        yield running


def client(server: SimulatorServer, concurrency: int, **options: Any) -> OneRosterClient:
    options.setdefault("page_size", PAGE_SIZE)
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_cap", 0.05)
    return OneRosterClient(
        server.base_url(TENANT),
        OAuth1Auth(KEY, SECRET),
        page_concurrency=concurrency,
        **options,
    )


def pull(server: SimulatorServer, concurrency: int, **options: Any) -> dict[str, list[Any]]:
    with client(server, concurrency, **options) as reader:
        return {c: list(reader.iter_collection(c)) for c in COLLECTIONS}


@pytest.mark.parametrize("quirks", [False, True], ids=["link-and-total", "classlink-quirks"])
def test_side_by_side_gets_exactly_what_page_after_page_gets(
    district: DistrictData, quirks: bool
) -> None:
    with serve(district, latency=0.01, quirks=quirks) as server:
        one_by_one = pull(server, 1)
        sent_one_by_one = server.request_count(TENANT)
        side_by_side = pull(server, 4)
        assert server.in_flight is not None and server.in_flight.peak > 1
    # The same records in the same order (pages are handed on by offset), each exactly once.
    assert side_by_side == one_by_one
    assert len(one_by_one["enrollments"]) == len(district.enrollments) > 10 * PAGE_SIZE
    ids = [e["sourcedId"] for e in side_by_side["enrollments"]]
    assert len(set(ids)) == len(ids)
    assert server.request_count(TENANT) == 2 * sent_one_by_one


@pytest.mark.parametrize("concurrency", [2, 4])
def test_never_more_requests_in_flight_than_the_bound(
    server: CountingSimulator, concurrency: int
) -> None:
    assert server.in_flight is not None
    # Each request waits (a second at most) for `concurrency` to be in flight: a client that
    # sends that many together reaches it at once; one that sent more would pass it.
    server.in_flight.gather = concurrency
    with client(server, concurrency) as reader:
        # Two collections at once, as a sync pulls enrollments beside the rest: one bound.
        enrollments: list[Any] = []
        aside = threading.Thread(
            target=lambda: enrollments.extend(reader.iter_collection("enrollments"))
        )
        aside.start()
        users = list(reader.iter_collection("users"))
        aside.join()
    server.in_flight.gather = 0
    assert users and enrollments
    assert server.in_flight.peak == concurrency


def test_side_by_side_pages_stay_within_the_shared_budget(server: CountingSimulator) -> None:
    rate = 10  # requests per second
    budget = shared_budget("memory://", f"pages-{secrets.token_hex(4)}", rate, 30.0)
    transport = BudgetTransport(httpx.HTTPTransport(), budget, "springfield-district")
    with client(server, 4, transport=transport, page_size=15) as reader:
        enrollments = list(reader.iter_collection("enrollments"))
    assert server.in_flight is not None and server.in_flight.peak > 1
    arrivals = server.in_flight.arrivals
    assert len(arrivals) > 2 * rate and len(enrollments) > 15 * 2 * rate
    # A moving window of one second: request i + rate arrives a second or more after request i
    # (less a little for the time between the budget's turn and the server's clock).
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[rate:], strict=False)]
    assert min(gaps) > 0.9


def test_a_page_failing_mid_pull_fails_the_pull(server: CountingSimulator) -> None:
    plan = server.set_faults(TENANT, f.server_error(500, times=50, collection="users", nth=4))
    with client(server, 4, max_retries=1) as reader:
        records = reader.iter_collection("users")
        with pytest.raises(RetriableSourceError, match="users"):
            next(records)  # held back: nothing is handed on before the whole collection
    assert plan.fired["5xx"] >= 2


def test_a_total_that_lies_low_is_not_a_complete_pull(server: CountingSimulator) -> None:
    # The first page says fewer users than the server has: the next pages bring more.
    server.set_faults(TENANT, f.wrong_total(-2 * PAGE_SIZE, times=1000, collection="users"))
    with client(server, 4) as reader, pytest.raises(IncompleteSourceError, match="users"):
        list(reader.iter_collection("users"))


def test_json_cut_short_is_retried_and_the_pull_stays_the_same(
    server: CountingSimulator, district: DistrictData
) -> None:
    expected = sorted(u["sourcedId"] for u in district.users)
    server.set_faults(TENANT, f.truncated_json(times=2, collection="users", nth=3))
    with client(server, 4) as reader:
        got = [u["sourcedId"] for u in reader.iter_collection("users")]
        assert reader.stats["users"].retries == 2
    assert got == expected


def test_json_cut_short_past_the_retries_fails_with_its_message(server: CountingSimulator) -> None:
    server.set_faults(TENANT, f.truncated_json(times=10, collection="users", nth=3))
    with (
        client(server, 4, max_retries=1) as reader,
        pytest.raises(RetriableSourceError, match="with JSON that breaks off after"),
    ):
        list(reader.iter_collection("users"))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_no_answer_outlives_its_page_while_the_cyclic_collector_is_paused(
    server: CountingSimulator, concurrency: int
) -> None:
    # A run pauses the cyclic collector: an answer kept alive by a reference cycle (httpx binds
    # an answer and its stream to each other) would keep its page in memory to the end of the run.
    # Only this pull's answers count: another test's live object may still hold one of its own.
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, httpx.Response)}
    gc.disable()
    try:
        with client(server, concurrency) as reader:
            count = sum(1 for _ in reader.iter_collection("enrollments"))
            pages = reader.stats["enrollments"].pages
        alive = sum(
            1 for o in gc.get_objects() if isinstance(o, httpx.Response) and id(o) not in before
        )
    finally:
        gc.enable()
    assert count > 0 and pages > 10
    assert alive == 0
