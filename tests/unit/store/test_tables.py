"""The table metadata: UTC timestamps, stable names, and a table for every kind of record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, create_engine

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
