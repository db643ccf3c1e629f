"""The CLI's world: the process environment pointing every command at one SQLite portal.

Commands read their settings from the environment once per process (`get_settings` is cached),
so each test sets its own and clears the cache on the way in and out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from rostersync.config import get_settings


@contextmanager
def cli_environment(
    folder: Path, monkeypatch: pytest.MonkeyPatch, *, chdir: bool = True
) -> Iterator[dict[str, str]]:
    """Point the CLI at a SQLite portal in `folder` with a fresh key; yields the variables."""
    values = {
        "ROSTERSYNC_DATA_DIR": str(folder),
        "ROSTERSYNC_DATABASE_URL": f"sqlite:///{folder / 'portal.db'}",
        "ROSTERSYNC_SECRET_KEYS": Fernet.generate_key().decode(),
        "ROSTERSYNC_LOG_FORMAT": "json",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    if chdir:
        monkeypatch.chdir(folder)
    get_settings.cache_clear()
    try:
        yield values
    finally:
        get_settings.cache_clear()
