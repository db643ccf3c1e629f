"""A running Clever simulator with one generated district, and clients that speak to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rostersync.simulator import DistrictData, generate_district
from rostersync.simulator.clever import CleverSimulator

CLIENT_ID, CLIENT_SECRET = "rostersync-app", "app-secret-value"
REDIRECT = "http://127.0.0.1:9/auth/clever/callback"


@pytest.fixture
def district_data() -> DistrictData:
    return generate_district(students=120, seed=11, bad_records=True, tenant="springfield")


@pytest.fixture
def clever() -> Iterator[CleverSimulator]:
    with CleverSimulator(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT]
    ) as server:
        yield server


@pytest.fixture
def district_id(clever: CleverSimulator, district_data: DistrictData) -> str:
    return clever.add_district(district_data)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


class Api:
    """GETs on the Data API with one district-app token."""

    def __init__(self, http: httpx.Client, base: str, token: str) -> None:
        self.http, self.base, self.token = http, base, token

    def get(self, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.get(self.base + path, params=params, headers=headers)

    def walk(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Follow `next` links from `path` to the end; the `data` objects in order."""
        body = self.get(path, **params).json()
        seen = [item["data"] for item in body["data"]]
        while (nxt := _link(body, "next")) is not None:
            response = self.http.get(
                self.base + nxt, headers={"Authorization": f"Bearer {self.token}"}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            seen += [item["data"] for item in body["data"]]
        return seen


def _link(body: dict[str, Any], rel: str) -> str | None:
    return next((link["uri"] for link in body["links"] if link["rel"] == rel), None)


@pytest.fixture
def api(http: httpx.Client, clever: CleverSimulator, district_id: str) -> Api:
    listed = http.get(
        f"{clever.url}/oauth/tokens",
        params={"owner_type": "district"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    ).json()
    token = next(t["access_token"] for t in listed["data"] if t["owner"]["id"] == district_id)
    return Api(http, clever.url, token)
