"""The retry transport repeats what its judge calls retriable, waits as told, and composes with the
outbound guard: a refused connection is never retried."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import httpx
import pytest

from rostersync.errors import FatalSourceError, RetriableSourceError, SourceError
from rostersync.oneroster.outbound import OutboundPolicy, OutboundRefused, guarded_transport
from rostersync.oneroster.transport import (
    ATTEMPT_HEADERS,
    RetryPolicy,
    RetryTransport,
)

URL = "https://roster.example/ims/oneroster/v1p1/users?limit=2&offset=0"


def judge(response: httpx.Response) -> SourceError | None:
    """429/5xx are retriable, other 4xx final, the rest accepted."""
    status, path = response.status_code, response.request.url.path
    if status == 429 or status >= 500:
        return RetriableSourceError(f"{path} answered HTTP {status}", url=path, status=status)
    if status >= 400:
        return FatalSourceError(f"{path} refused (HTTP {status})", url=path, status=status)
    return None


class Script:
    """A MockTransport handler answering with the scripted faults first, then 200."""

    def __init__(self, *faults: httpx.Response | Exception) -> None:
        self.faults = list(faults)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        return httpx.Response(200, json={"users": []})


def client_over(
    inner: httpx.BaseTransport, sleeps: list[float], **policy: Any
) -> tuple[httpx.Client, RetryTransport]:
    retry = RetryTransport(
        inner, RetryPolicy(sleep=sleeps.append, rng=random.Random(3), **policy), judge
    )
    return httpx.Client(transport=retry), retry


class TestRetries:
    """429, 5xx and transport failures are tried again; the count of attempts is kept."""

    def test_a_503_is_retried_and_counted(self) -> None:
        script = Script(httpx.Response(503))
        sleeps: list[float] = []
        client, retry = client_over(httpx.MockTransport(script), sleeps)
        with client:
            response = client.get(URL)
        assert response.status_code == 200 and response.json() == {"users": []}
        assert (retry.requests, retry.retries, len(sleeps)) == (2, 1, 1)

    def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling(self) -> None:
        script = Script(*(httpx.Response(429) for _ in range(5)))
        sleeps: list[float] = []
        client, _ = client_over(
            httpx.MockTransport(script), sleeps, backoff_base=0.5, backoff_cap=4.0
        )
        with client:
            client.get(URL)
        ceilings = [0.5, 1.0, 2.0, 4.0, 4.0]
        assert all(0.0 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))
        assert len(set(sleeps)) == 5

    def test_retry_after_in_seconds_and_as_a_date_is_waited_for(self) -> None:
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
        script = Script(
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503, headers={"Retry-After": when}),
        )
        sleeps: list[float] = []
        client, _ = client_over(httpx.MockTransport(script), sleeps)
        with client:
            client.get(URL)
        assert sleeps[0] == 7.0 and 18.0 < sleeps[1] <= 20.0

    def test_a_retry_after_beyond_the_longest_wait_fails_at_once(self) -> None:
        script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
        sleeps: list[float] = []
        client, _ = client_over(httpx.MockTransport(script), sleeps, max_retry_after=300)
        with client, pytest.raises(RetriableSourceError, match="asked us to wait 3600 s"):
            client.get(URL)
        assert sleeps == [] and len(script.requests) == 1

    def test_exhausted_retries_say_so_and_keep_the_cause(self) -> None:
        script = Script(*(httpx.ConnectError("refused") for _ in range(3)))
        sleeps: list[float] = []
        client, retry = client_over(httpx.MockTransport(script), sleeps, max_retries=2)
        with client, pytest.raises(RetriableSourceError) as caught:
            client.get(URL)
        message = str(caught.value)
        assert message.startswith(
            "roster.example did not answer GET /ims/oneroster/v1p1/users (ConnectError)"
        )
        assert "still failing after 2 retries" in message and "limit" not in message
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        assert (retry.requests, retry.retries) == (3, 2)

    def test_a_final_verdict_is_raised_without_a_retry(self) -> None:
        script = Script(httpx.Response(400))
        sleeps: list[float] = []
        client, retry = client_over(httpx.MockTransport(script), sleeps)
        with client, pytest.raises(FatalSourceError, match="HTTP 400"):
            client.get(URL)
        assert sleeps == [] and retry.requests == 1

    def test_every_attempt_gets_its_headers_afresh(self) -> None:
        script = Script(httpx.Response(503), httpx.Response(503))
        sleeps: list[float] = []
        client, _ = client_over(httpx.MockTransport(script), sleeps)
        nonces = count()
        with client:
            client.get(
                URL,
                headers={"Accept": "application/json"},
                extensions={ATTEMPT_HEADERS: lambda: {"Authorization": f"n{next(nonces)}"}},
            )
        assert [r.headers["Authorization"] for r in script.requests] == ["n0", "n1", "n2"]
        assert all(r.headers["Accept"] == "application/json" for r in script.requests)


class _Busy(BaseHTTPRequestHandler):
    """503 with `Retry-After: 0` for the first request, then a page."""

    answered = 0

    def do_GET(self) -> None:
        type(self).answered += 1
        status, body = (503, b"{}") if self.answered == 1 else (200, b'{"users": []}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def busy() -> Iterator[str]:
    """A loopback server that is busy once; yields its users URL."""
    _Busy.answered = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ims/oneroster/v1p1/users"
    server.shutdown()
    server.server_close()
    thread.join()


class TestOverTheOutboundGuard:
    """Wrapped around `guarded_transport`, the guard still decides where a request may go."""

    def test_an_allowed_address_is_retried_through_the_guard(self, busy: str) -> None:
        guard = guarded_transport(OutboundPolicy(allow_private=True, require_https=False))
        sleeps: list[float] = []
        client, retry = client_over(guard, sleeps)
        with client:
            response = client.get(busy)
        assert response.json() == {"users": []}
        assert sleeps == [0.0] and (retry.requests, _Busy.answered) == (2, 2)

    def test_a_refused_address_is_not_retried(self, busy: str) -> None:
        guard = guarded_transport(OutboundPolicy(allow_private=False, require_https=False))
        sleeps: list[float] = []
        client, retry = client_over(guard, sleeps)
        with client, pytest.raises(OutboundRefused):
            client.get(busy)
        assert sleeps == [] and retry.requests == 1 and _Busy.answered == 0
