"""Faults on the Clever simulator's Data API: throttling, server errors, broken bodies, 401s."""

from __future__ import annotations

import copy
import json
import time

import httpx
import pytest

from rostersync.simulator import DistrictData
from rostersync.simulator.clever import CleverSimulator
from rostersync.simulator.faults import (
    change_mid_pull,
    cut_mid_body,
    expired_token,
    server_error,
    slow,
    throttle,
    truncated_json,
    wrong_total,
)

from .conftest import Api


def test_a_429_burst_carries_retry_after_then_clears(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    plan = clever.set_faults(district_id, throttle(times=2, retry_after=1.5, collection="users"))
    for _ in range(2):
        refused = api.get("/v3.1/users")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1.5"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert int(refused.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert api.get("/v3.1/sections").status_code == 200
    assert api.get("/v3.1/users").status_code == 200
    assert plan.fired == {"429-burst": 2}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_answer_with_a_message(
    api: Api, clever: CleverSimulator, district_id: str, status: int
) -> None:
    clever.set_faults(district_id, server_error(status, nth=2))
    assert api.get("/v3.1/users").status_code == 200
    failed = api.get("/v3.1/users")
    assert failed.status_code == status
    assert "message" in failed.json()
    assert api.get("/v3.1/users").status_code == 200


def test_a_truncated_page_is_unreadable_json(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    clever.set_faults(district_id, truncated_json(collection="sections"))
    broken = api.get("/v3.1/sections")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert api.get("/v3.1/sections").json()["data"]


def test_a_cut_body_breaks_the_connection(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    clever.set_faults(district_id, cut_mid_body())
    with pytest.raises(httpx.HTTPError):
        api.get("/v3.1/users")
    assert api.get("/v3.1/users").status_code == 200


def test_an_expired_token_fault_answers_401_and_requests_are_counted(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    clever.set_faults(district_id, expired_token(collection="events"))
    before = clever.request_count(district_id)
    denied = api.get("/v3.1/events")
    assert denied.status_code == 401
    assert "invalid_token" in denied.headers["WWW-Authenticate"]
    assert api.get("/v3.1/events").status_code == 200
    assert clever.request_count(district_id) == before + 2


def test_a_slow_answer_is_held_back(api: Api, clever: CleverSimulator, district_id: str) -> None:
    clever.set_faults(district_id, slow(0.2, collection="terms"))
    started = time.monotonic()
    assert api.get("/v3.1/terms").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_a_change_mid_pull_serves_the_new_roster_and_records_events(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    def drop_first_student(data: DistrictData) -> DistrictData:
        changed = copy.deepcopy(data)
        changed.users.remove(next(u for u in changed.users if u["role"] == "student"))
        return changed

    clever.set_faults(district_id, change_mid_pull(drop_first_student, collection="users"))
    before = len(api.walk("/v3.1/users", limit=10_000))
    after = len(api.walk("/v3.1/users", limit=10_000))
    assert after == before - 1
    types = {e["data"]["type"] for e in api.get("/v3.1/events").json()["data"]}
    assert "users.deleted" in types


def test_a_wrong_total_is_refused_since_clever_sends_no_totals(
    clever: CleverSimulator, district_id: str
) -> None:
    with pytest.raises(ValueError, match="no total count"):
        clever.set_faults(district_id, wrong_total(5))
