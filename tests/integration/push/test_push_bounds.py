"""The push endpoint refuses hostile bundles before parsing them, with flat memory.

A zip of tens of thousands of entries and a bundle with one endless line are pushed to the real
portal on loopback; each is refused with a 422 that says why, nothing is kept, and the memory
allocated while refusing it (`tracemalloc`, which sees the server's threads in this process) is
no more than refusing an ordinary bad bundle, measured in the same test.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from tests.integration.push.conftest import PushWorld
from tests.unit.oneroster.bundle_helpers import USERS_11, make_zip, manifest
from tests.unit.oneroster.test_bundle_bounds import ROW, many_entries, noise

from rostersync.config import Settings
from rostersync.sync.bundle_source import limits_for

ZIP = {"Content-Type": "application/zip"}
MB = 1024 * 1024


@pytest.fixture
def push_settings(fresh_db_url: Callable[[], str], tmp_path: Path) -> Settings:
    """As the push tests' settings, with room for the hostile bundles (tens of MB)."""
    return Settings(
        data_dir=tmp_path,
        database_url=fresh_db_url(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        push_max_bundle_bytes=64 * MB,
        stale_after_days=36500,
    )


def refused(world: PushWorld, body: bytes, tmp_path: Path) -> tuple[httpx.Response, int]:
    """The push's response and the peak memory allocated while it was answered.

    The client streams the bundle from a file, 64 KiB at a time, so what is measured is the
    portal's side (a client sending bytes it holds would copy them whole into its buffers).
    """
    upload = tmp_path / "upload.zip"
    upload.write_bytes(body)

    def chunks() -> Iterator[bytes]:
        with upload.open("rb") as handle:
            while chunk := handle.read(64 * 1024):
                yield chunk

    headers = {**ZIP, "Content-Length": str(len(body))}
    with world.client("ogden") as client:
        tracemalloc.start()
        try:
            response = client.post(
                "/api/v1/districts/ogden/bundles", content=chunks(), headers=headers
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert response.status_code == 422, response.text
    folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
    assert list(folder.iterdir()) == []
    return response, peak


def test_hostile_bundles_are_refused_with_no_more_memory_than_an_ordinary_refusal(
    world: PushWorld, tmp_path: Path
) -> None:
    ordinary = make_zip({"manifest.csv": manifest(users="bulk")})  # users.csv is missing
    entries = many_entries(60_000)
    body = f"{USERS_11}\r\n{ROW}\r\n{noise(20 * MB)}".encode()
    endless = make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": body})
    assert len(endless) < 64 * MB

    _response, baseline = refused(world, ordinary, tmp_path)
    many, many_peak = refused(world, entries, tmp_path)
    # Refused before the zip's directory is parsed: no object per entry is ever built.
    assert many_peak < baseline + 2 * MB, (many_peak, baseline)
    assert "60000 entries, more than the 50 allowed" in many.json()["detail"]
    long, long_peak = refused(world, endless, tmp_path)
    assert (long.json()["file"], long.json()["line"]) == ("users.csv", 3)
    assert "longer than 1,048,576 characters" in long.json()["detail"]
    # The upload streams to disk; what is parsed is bounded by the limits, not by the bundle.
    assert long_peak < baseline + 8 * MB, (long_peak, baseline)


def test_the_bounds_are_settings(world: PushWorld) -> None:
    assert world.service.settings.bundle_max_members == 50
    assert world.service.settings.bundle_max_line_chars == MB
    limits = limits_for(world.service.settings)
    assert (limits.max_members, limits.max_line_chars) == (50, MB)
