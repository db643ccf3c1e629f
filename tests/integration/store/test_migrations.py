"""The Alembic migrations build exactly the schema `tables.py` describes, on both databases."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from rostersync.store.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    alembic_config,
    create_engine_for,
    migrate,
)
from rostersync.store.schema import metadata

# `fresh_db_url` makes these tests empty databases, which they migrate themselves.
pytestmark = pytest.mark.empty_database

EXPRESSION_INDEXES = {"ix_educators_district_id_lower_email", "ix_students_district_id_lower_email"}


def schema_diff(conn: Connection) -> list[Any]:
    """What autogenerate would change to make the database match the metadata."""
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    with warnings.catch_warnings():
        # SQLAlchemy cannot reflect SQLite's expression indexes, so autogenerate skips them
        # with a warning; `test_expression_indexes_exist` checks them directly instead.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        return list(compare_metadata(context, metadata))


def index_names(conn: Connection) -> set[str]:
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
    else:
        rows = conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        )
    return {name for (name,) in rows}


class TestMigrations:
    """`alembic upgrade head` on an empty database yields the metadata, nothing more or less."""

    def test_upgrade_head_on_an_empty_database_matches_the_metadata(
        self, fresh_db_url: Callable[[], str]
    ) -> None:
        engine = create_engine_for(fresh_db_url())
        try:
            migrate(engine)
            with engine.connect() as conn:
                assert schema_diff(conn) == []
                assert set(inspect(conn).get_table_names()) == set(metadata.tables) | {
                    "alembic_version"
                }
        finally:
            engine.dispose()

    def test_expression_indexes_exist(self, conn: Connection) -> None:
        assert index_names(conn) >= EXPRESSION_INDEXES

    def test_the_comparison_notices_drift(self, fresh_db_url: Callable[[], str]) -> None:
        """Guards the test above against passing vacuously."""
        engine = create_engine_for(fresh_db_url())
        try:
            migrate(engine)
            with engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_audit_log_entity_id"))
                diff = schema_diff(conn)
            assert [(d[0], d[1].name) for d in diff] == [("add_index", "ix_audit_log_entity_id")]
        finally:
            engine.dispose()

    def test_migrate_is_idempotent_and_downgrade_removes_everything(
        self, fresh_db_url: Callable[[], str]
    ) -> None:
        engine = create_engine_for(fresh_db_url())
        try:
            migrate(engine)
            migrate(engine)
            with engine.begin() as conn:
                command.downgrade(alembic_config(conn), "base")
            with engine.connect() as conn:
                assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
            migrate(engine)
            with engine.connect() as conn:
                assert schema_diff(conn) == []
        finally:
            engine.dispose()


class TestSqliteEngine:
    """A SQLite portal database is private, journaled with WAL and enforces foreign keys."""

    def test_the_file_and_its_directory_are_created_owner_only(self, tmp_path: Path) -> None:
        path = tmp_path / "nested" / "dir" / "portal.db"
        engine = create_engine_for(f"sqlite:///{path}")
        try:
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert conn.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        finally:
            engine.dispose()

    def test_migrations_do_not_depend_on_the_working_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        engine = create_engine_for(f"sqlite:///{tmp_path / 'portal.db'}")
        try:
            migrate(engine)
            with engine.connect() as conn:
                head = ScriptDirectory.from_config(alembic_config()).get_current_head()
                assert head is not None
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                    head
                )
        finally:
            engine.dispose()
        assert not (Path(os.getcwd()) / "alembic.ini").exists()
