"""What staff passwords cost to hash: argon2id at RFC 9106's second recommendation unless
configured, the configured costs in every new hash, and a password rehashed at its next sign-in
when the costs are raised. The test run itself hashes cheaply (tests/conftest.py), so the
defaults are read from the settings' declaration, not from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from argon2 import extract_parameters, profiles
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.staff.accounts import StaffAuth
from rostersync.store import admin as store

PASSWORD = "correct horse battery staple"
EMAIL = "pat@portal.example"


def settings(tmp_path: Path, time_cost: int, memory_kib: int, parallelism: int) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url="sqlite://",
        secret_keys=Fernet.generate_key().decode(),
        password_hash_time_cost=time_cost,
        password_hash_memory_kib=memory_kib,
        password_hash_parallelism=parallelism,
    )


def stored_hash(engine: Engine) -> str:
    with engine.connect() as conn:
        staff = store.staff_by_email(conn, EMAIL)
    assert staff is not None
    return staff.password_hash


def test_the_default_costs_are_rfc_9106s_second_recommendation() -> None:
    fields = Settings.model_fields
    expected = profiles.RFC_9106_LOW_MEMORY
    assert fields["password_hash_time_cost"].default == expected.time_cost == 3
    assert fields["password_hash_memory_kib"].default == expected.memory_cost == 64 * 1024
    assert fields["password_hash_parallelism"].default == expected.parallelism == 4


def test_a_new_password_is_hashed_at_the_configured_costs(engine: Engine, tmp_path: Path) -> None:
    auth = StaffAuth(engine, settings(tmp_path, 2, 2048, 2))
    auth.add_staff(email=EMAIL, display_name="Pat Staff", role="vendor_staff", password=PASSWORD)
    params = extract_parameters(stored_hash(engine))
    assert (params.type.name, params.time_cost, params.memory_cost, params.parallelism) == (
        "ID",
        2,
        2048,
        2,
    )


def test_raising_the_costs_rehashes_a_password_at_its_next_sign_in(
    engine: Engine, tmp_path: Path
) -> None:
    StaffAuth(engine, settings(tmp_path, 1, 1024, 1)).add_staff(
        email=EMAIL, display_name="Pat Staff", role="vendor_staff", password=PASSWORD
    )
    before = stored_hash(engine)
    StaffAuth(engine, settings(tmp_path, 2, 4096, 1)).sign_in(EMAIL, PASSWORD)
    after = extract_parameters(stored_hash(engine))
    assert stored_hash(engine) != before
    assert (after.time_cost, after.memory_cost) == (2, 4096)
    # The rehashed password still signs in, at the new costs or the old.
    StaffAuth(engine, settings(tmp_path, 2, 4096, 1)).sign_in(EMAIL, PASSWORD)


def test_less_memory_than_its_lanes_need_is_refused_with_the_least_that_works(
    tmp_path: Path,
) -> None:
    least = re.escape("at least 8 KiB per lane (32 for 4 lanes)")
    with pytest.raises(ValidationError, match=least):
        settings(tmp_path, 1, 16, 4)
