"""A running simulator on loopback and a client that signs requests the way OneRoster requires."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from rostersync.oneroster import oauth1
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district

TENANT, KEY, SECRET = "springfield", "sim-key", "sim-secret-value"


class Clock:
    """The server's clock, frozen so signatures and windows are deterministic."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


class SignedClient:
    """Builds the exact URL to send, signs that string, and sends it verbatim."""

    tenant, key, secret = TENANT, KEY, SECRET

    def __init__(self, http: httpx.Client, base: str, clock: Clock) -> None:
        self.http = http
        self.base = base
        self.clock = clock

    def url(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        return oauth1.build_url(self.base + path, list(params))

    def authorization(self, url: str, **overrides: Any) -> str:
        options: dict[str, Any] = {
            "consumer_key": KEY,
            "consumer_secret": SECRET,
            "timestamp": int(self.clock()),
        }
        return oauth1.authorization_header("GET", url, **{**options, **overrides})

    def get(
        self, path: str, params: Sequence[tuple[str, str]] = (), **overrides: Any
    ) -> httpx.Response:
        return self.get_url(self.url(path, params), **overrides)

    def get_url(self, url: str, **overrides: Any) -> httpx.Response:
        return self.send(url, self.authorization(url, **overrides))

    def send(self, url: str, authorization: str | None) -> httpx.Response:
        headers = {} if authorization is None else {"Authorization": authorization}
        return self.http.get(url, headers=headers)

    @staticmethod
    def status(response: httpx.Response) -> tuple[str, str]:
        """codeMinor and description of a 1.1 statusInfoSet body."""
        (info,) = response.json()["statusInfoSet"]
        field = info["imsx_CodeMinor"]["imsx_codeMinorField"][0]
        return field["imsx_codeMinorFieldValue"], info["imsx_description"]


@pytest.fixture(scope="session")
def district() -> DistrictData:
    return generate_district(students=600, seed=11)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(district: DistrictData, clock: Clock) -> Iterator[SimulatorServer]:
    with SimulatorServer([Tenant(TENANT, district, KEY, SECRET)], clock=clock) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def api(server: SimulatorServer, http: httpx.Client, clock: Clock) -> SignedClient:
    return SignedClient(http, server.base_url(TENANT), clock)
