"""What the staff tests share: a migrated SQLite portal database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from rostersync.store.db import create_engine_for, migrate


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine_for(f"sqlite:///{tmp_path / 'portal.db'}")
    migrate(eng)
    yield eng
    eng.dispose()
