"""The table metadata: UTC timestamps, stable names, a table for every kind of record, and each
table defined whole by the one module that defines it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, create_engine
from tests.unit.store.table_ddl import table_ddl

import rostersync.store
from rostersync.domain.records import EntityKind
from rostersync.store.schema import metadata
from rostersync.store.tables import ROSTER_TABLES, UtcDateTime

# Dialects only: creating an engine connects to nothing.
SQLITE = create_engine("sqlite://").dialect
POSTGRES = create_engine("postgresql+psycopg://").dialect


class TestUtcDateTime:
    """Timestamps are stored as UTC and always come back timezone-aware."""

    def test_an_aware_value_is_stored_as_utc(self) -> None:
        chicago = timezone(timedelta(hours=-5))
        value = datetime(2026, 9, 1, 22, 0, tzinfo=chicago)
        stored = UtcDateTime().process_bind_param(value, SQLITE)
        assert stored == datetime(2026, 9, 2, 3, 0)  # SQLite keeps no offset: UTC, naive
        on_postgres = UtcDateTime().process_bind_param(value, POSTGRES)
        assert on_postgres == value and on_postgres is not None and on_postgres.tzinfo is UTC

    def test_a_naive_value_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            UtcDateTime().process_bind_param(datetime(2026, 9, 1), SQLITE)

    def test_values_read_back_are_utc(self) -> None:
        naive = datetime(2026, 9, 2, 3, 0)
        assert UtcDateTime().process_result_value(naive, SQLITE) == naive.replace(tzinfo=UTC)
        offset = datetime(2026, 9, 1, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
        back = UtcDateTime().process_result_value(offset, POSTGRES)
        assert back is not None and back.tzinfo is UTC and back == offset


class TestMetadata:
    """Every kind has its table, keyed per district, and every constraint has a stable name."""

    def test_every_kind_has_a_table_keyed_by_district_and_sourced_id(self) -> None:
        assert list(ROSTER_TABLES) == list(EntityKind)
        for table in ROSTER_TABLES.values():
            unique = {
                tuple(c.name for c in constraint.columns)
                for constraint in table.constraints
                if isinstance(constraint, UniqueConstraint)
            }
            assert ("district_id", "sourced_id") in unique, table.name

    def test_only_hand_made_accounts_may_lack_a_sourced_id(self) -> None:
        nullable = {t.name for t in ROSTER_TABLES.values() if t.c.sourced_id.nullable}
        assert nullable == {"educators", "students"}

    def test_every_district_scoped_table_references_districts(self) -> None:
        for table in metadata.tables.values():
            if "district_id" in table.c and table.name != "integrations":
                targets = {fk.target_fullname for fk in table.c.district_id.foreign_keys}
                assert targets == {"districts.id"}, table.name

    def test_every_district_scoped_table_can_find_a_districts_rows_by_index(self) -> None:
        for table in metadata.tables.values():
            if "district_id" not in table.c:
                continue
            leading = {next(iter(index.expressions)).name for index in table.indexes}  # type: ignore[union-attr]
            leading |= {
                next(iter(c.columns)).name
                for c in table.constraints
                if isinstance(c, UniqueConstraint | PrimaryKeyConstraint)
            }
            assert "district_id" in leading, table.name


class TestTableModules:
    """No module changes a table another module defines: each table is whole where it is made."""

    def test_no_store_module_adds_to_a_table_after_it_is_made(self) -> None:
        store = Path(rostersync.store.__file__).parent
        for path in sorted(store.glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute):
                    assert node.attr not in {"append_column", "append_constraint"}, path.name

    def test_the_core_tables_are_the_same_without_the_feature_modules(self) -> None:
        # `store.tables` alone, in an interpreter that imports no feature tables module.
        script = (
            "import json, sys\n"
            "from tests.unit.store.table_ddl import table_ddl\n"
            "from rostersync.store import tables\n"
            "assert 'rostersync.store.workflow_tables' not in sys.modules\n"
            "print(json.dumps(table_ddl(tables.metadata)))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        alone: dict[str, list[str]] = json.loads(done.stdout)
        assert "validation_issues" in alone
        assert table_ddl(metadata, alone) == alone
