"""Many rows into one table, as the database loads them fastest, inside the caller's transaction.

`conn.execute(insert(table), rows)` is correct for any rows but, for each row, builds a dict of
bound parameters and runs every value through its type's processor inside SQLAlchemy's
compiler: at a first sync's hundreds of thousands of rows that took as long as the database's
own work. `insert_rows` resolves each column's bind processor once and hands the driver plain
tuples: `COPY … FROM STDIN` on PostgreSQL (psycopg 3), one DB-API `executemany` on SQLite. The
values stored are the same: each goes through the same processor SQLAlchemy would apply.

Rows that SQLAlchemy must finish itself go to it unchanged: rows whose keys differ, and tables
with a Python-side default for a column the rows leave out (a person's search key is computed
from the row by such a default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

__all__ = ["insert_rows"]

Processor = Callable[[Any], Any]


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts keyed by column name) into `table` in the caller's transaction."""
    if not rows:
        return
    names = tuple(rows[0])
    if not _plain(table, names) or any(len(row) != len(names) for row in rows):
        conn.execute(insert(table), list(rows))
        return
    dialect = conn.dialect
    processors: list[tuple[int, Processor]] = []
    for at, name in enumerate(names):
        column = table.c[name]
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((at, processor))
    values = _tuples(rows, names, processors)
    preparer = dialect.identifier_preparer
    target = preparer.format_table(table)
    columns = ", ".join(preparer.quote(name) for name in names)
    if dialect.name == "postgresql":
        raw = conn.connection.dbapi_connection
        assert raw is not None  # the connection is open: the caller's transaction holds it
        cursor: Any = raw.cursor()  # psycopg 3's, which has `copy`
        # Names from our own table definitions, quoted by the dialect; values are never in SQL.
        statement = f"COPY {target} ({columns}) FROM STDIN"
        _announce(conn, cursor, statement, values)
        with cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in values:
                write(row)
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in names)
    statement = f"INSERT INTO {target} ({columns}) VALUES ({marks})"  # noqa: S608 (as above)
    conn.exec_driver_sql(statement, values)


def _announce(conn: Connection, cursor: Any, statement: str, values: list[tuple[Any, ...]]) -> None:
    """Tell the connection's `before_cursor_execute` listeners about a `COPY`, which the driver
    runs outside SQLAlchemy: whoever counts or traces statements sees it like any other."""
    for listener in conn.dispatch.before_cursor_execute:
        listener(conn, cursor, statement, values, None, True)


def _plain(table: Table, names: tuple[str, ...]) -> bool:
    """Whether every column the rows leave out is filled by the database (or left null)."""
    given = set(names)
    return all(
        column.name in given or column.default is None or column.default.is_sequence
        for column in table.columns
    )


def _tuples(
    rows: Sequence[Mapping[str, Any]],
    names: tuple[str, ...],
    processors: list[tuple[int, Processor]],
) -> list[tuple[Any, ...]]:
    # A batch repeats the same objects in a column (every row's `created_at` is the run's `now`,
    # `active` is True): each processor's last input and output are kept, and an input that is
    # the very same object is not processed again (processors are pure functions of the value).
    last_in: list[Any] = [_NOTHING] * len(processors)
    last_out: list[Any] = [None] * len(processors)
    out: list[tuple[Any, ...]] = []
    append = out.append
    for row in rows:
        values = [row[name] for name in names]
        for i, (at, process) in enumerate(processors):
            value = values[at]
            if value is last_in[i]:
                values[at] = last_out[i]
            else:
                values[at] = last_out[i] = process(value)
                last_in[i] = value
        append(tuple(values))
    return out


_NOTHING = object()
