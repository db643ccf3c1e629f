"""Tables as PostgreSQL would create them, to compare one metadata with another.

Imports no tables module itself, so a fresh interpreter can use it on `store.tables` alone.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import MetaData, create_engine
from sqlalchemy.schema import CreateIndex, CreateTable

# A dialect only: creating an engine connects to nothing.
POSTGRES = create_engine("postgresql+psycopg://").dialect


def table_ddl(metadata: MetaData, names: Collection[str] | None = None) -> dict[str, list[str]]:
    """Each table's CREATE TABLE and CREATE INDEX statements, by table name."""
    return {
        table.name: [
            str(CreateTable(table).compile(dialect=POSTGRES)),
            *sorted(str(CreateIndex(index).compile(dialect=POSTGRES)) for index in table.indexes),
        ]
        for table in metadata.sorted_tables
        if names is None or table.name in names
    }
