"""The shared Redis the Redis-backed tests run on: reach it or skip, and queues of their own.

A missing Redis skips those tests on a laptop but fails them under `CI=true`, where skipping
would hide a gap (as a missing PostgreSQL does).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> redis.Redis:
    """A client on the shared Redis, or skip (fail under CI) when it is not reachable."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        reason = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the Redis tests must run, not skip)")
        pytest.skip(reason)
    return client


def own_queue(prefix: str) -> Iterator[str]:
    """A queue name of the test's own on the shared Redis (`prefix` and a random tail), whose
    keys are removed afterwards. Use it with `yield from` in a fixture."""
    client = redis_or_skip()
    name = f"{prefix}-{secrets.token_hex(6)}"
    yield name
    for key in client.scan_iter(match=f"*{name}*"):
        client.delete(key)
    client.close()
