"""Sign-in stays correct under a bounded load on loopback, on SQLite and PostgreSQL.

300 logins by different students and educators of two districts, on 8 threads (each its own
cookie jar, following the real redirects through the SSO simulator), with a signing-key rotation
in the middle. Asserted: no errors, no session that belongs to anyone but the person who logged in,
and at most one JWKS fetch for the start plus one per rotation. Logins/s and p95 latency are
printed and written to `sign_in_load.json` in the test's tmp dir, never asserted (timings belong
to `bench/sign_in_load.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from bench.sign_in_load import people_of, run_load, sandbox_districts
from cryptography.fernet import Fernet

from rostersync.config import Settings
from rostersync.demo.sandbox import Sandbox

LOGINS = 300
THREADS = 8


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("load")
    settings = Settings(
        data_dir=tmp,
        database_url=databases.new(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        log_level="WARNING",
    )
    with Sandbox(settings, sandbox_districts(students_per_district=140, districts=2)) as sandbox:
        yield sandbox


class TestSignInLoad:
    """Many concurrent logins across districts, with a key rotation, sign in exactly the right
    people and fetch the JWKS once per key."""

    def test_concurrent_logins_with_a_key_rotation(
        self, world: Sandbox, databases: Any, tmp_path: Path
    ) -> None:
        people = people_of(world)
        assert len(people) >= LOGINS  # every login is a different person
        report = run_load(world, people, logins=LOGINS, threads=THREADS, rotations=1)
        figures = {**asdict(report), "backend": databases.backend}
        (tmp_path / "sign_in_load.json").write_text(json.dumps(figures, indent=2))
        print(
            f"\nsign-in load ({databases.backend}): {report.logins} logins, "
            f"{report.logins_per_second} logins/s, p95 {report.p95_ms} ms, "
            f"JWKS fetches {report.jwks_fetches} for {report.rotations} rotation(s)"
        )
        assert report.problems == []
        assert report.errors == 0 and report.wrong_account == 0
        assert report.distinct_people == LOGINS and report.districts == 2
        assert report.rotations == 1
        assert 1 <= report.jwks_fetches <= 1 + report.rotations
