"""A database lost mid-run is one clear `DatabaseUnavailable` line, never the failed statement."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from rostersync.errors import DatabaseUnavailable
from rostersync.store.db import create_engine_for, for_writing
from rostersync.sync.run_end import on_database, unavailable

SECRET_VALUE = "Maria Lopez"


def test_sqlite_locked_by_another_writer_says_so_without_the_statement(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'portal.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE people (name TEXT)"))
        impatient = for_writing(engine, wait_seconds=0)
        with for_writing(engine).begin() as holder:
            holder.execute(text("INSERT INTO people VALUES ('someone')"))

            def write() -> None:
                with impatient.begin() as conn:
                    conn.execute(text("INSERT INTO people VALUES (:n)"), {"n": SECRET_VALUE})

            with pytest.raises(OperationalError) as caught:
                write()
            with pytest.raises(DatabaseUnavailable) as lost:
                on_database(write)
        message = str(unavailable(caught.value))
        assert "locked by another writer" in message and "nothing was written" in message
        assert str(lost.value) == message
        assert SECRET_VALUE not in message and "INSERT" not in message
    finally:
        engine.dispose()


def test_an_unknown_cause_is_named_by_its_type_only() -> None:
    exc = OperationalError("UPDATE students SET name = %(n)s", {"n": SECRET_VALUE}, Exception())
    message = str(unavailable(exc))
    assert message.startswith("the portal database stopped answering during the sync")
    assert "OperationalError" in message
    assert SECRET_VALUE not in message and "UPDATE" not in message
