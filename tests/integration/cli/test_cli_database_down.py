# `env` is test_cli's fixture, imported by name.
# ruff: noqa: F811
"""A portal database that cannot be used before a command even starts is one clear line (JSON
with `--json`), exit 2, never a traceback or an "unexpected error"."""

from __future__ import annotations

import json

import pytest
from tests.integration.cli.test_cli import env, invoke  # noqa: F401
from tests.integration.listener import free_port

from rostersync.config import get_settings


def test_a_database_nobody_answers_for_says_what_to_check(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ROSTERSYNC_DATABASE_URL",
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=2",
    )
    get_settings.cache_clear()
    code, out = invoke("district", "list", "--json")
    assert code == 2, out
    error = json.loads(out)["error"]
    assert error["type"] == "DatabaseUnavailable"
    assert "ROSTERSYNC_DATABASE_URL" in error["message"] and "reference" not in error
    code, out = invoke("district", "list")
    assert code == 2 and out.startswith("Error: the portal database cannot be reached")
    assert "Traceback" not in out


def test_a_database_without_tables_says_to_run_db_init(env: dict[str, str]) -> None:
    code, out = invoke("district", "list")
    assert code == 2, out
    assert "rostersync db init" in out
    assert "SELECT" not in out and "unexpected" not in out
