"""A SQLite transaction waits for the writer as long as it asked, on a pooled connection too."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from rostersync.store.db import SQLITE_BUSY_TIMEOUT_MS, create_engine_for, for_writing


def test_each_transaction_gets_its_own_wait_and_the_pragma_runs_only_on_a_change(
    tmp_path: Path,
) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'portal.db'}", pool_size=1)
    pragmas: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("PRAGMA busy_timeout="):
            pragmas.append(statement)

    def wait_in(source: Engine) -> int:
        with source.begin() as conn:
            return int(conn.execute(text("PRAGMA busy_timeout")).scalar_one())

    try:
        assert wait_in(engine) == SQLITE_BUSY_TIMEOUT_MS
        assert wait_in(for_writing(engine)) == SQLITE_BUSY_TIMEOUT_MS
        assert pragmas == []  # the connection already waits that long
        assert wait_in(for_writing(engine, wait_seconds=1800)) == 1_800_000
        # The same pooled connection: the next transaction waits no longer than it asked.
        assert wait_in(engine) == SQLITE_BUSY_TIMEOUT_MS
        assert wait_in(for_writing(engine, wait_seconds=0)) == 0
        assert wait_in(engine) == SQLITE_BUSY_TIMEOUT_MS
        assert pragmas == [
            "PRAGMA busy_timeout=1800000",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "PRAGMA busy_timeout=0",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ]
    finally:
        engine.dispose()
