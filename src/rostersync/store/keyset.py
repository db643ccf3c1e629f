"""Keyset (seek) paging: a page of a list starts after (or ends before) the sort key of a row
the reader saw, never at an offset, so a page costs the same deep in a list as at its head and a
row inserted between two page loads is neither shown twice nor skipped.

A list is ordered by a few columns whose values together are unique (the last is always the
primary key), all ascending or all descending. Besides the page, two counts state where it is:
how many rows the list has (`total`), and how many come before the page (`skipped`), so a page
can say "Showing 51–100 of 1,240". Both counts, like the page, go through the list's index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Tuple, func, literal, select, tuple_
from sqlalchemy.engine import Connection, Row

__all__ = ["KeyValue", "Seek", "SeekPage", "seek_page"]

KeyValue = Any  # one sort key column's value: a str, an int or a datetime


@dataclass(frozen=True, slots=True)
class Seek:
    """Where a page starts: after the row with sort key `key`, or, with `before`, the page that
    ends just before it (the Previous link)."""

    key: tuple[KeyValue, ...]
    before: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SeekPage:
    """One page of a list: its rows in the list's order and where it stands in the list.

    Attributes:
        rows: The page's rows.
        keys: Each row's sort key, in the same order.
        total: How many rows the whole list has.
        skipped: How many rows of the list come before the page.
        size: The most rows a page holds.
    """

    rows: list[Row[Any]]
    keys: list[tuple[KeyValue, ...]]
    total: int
    skipped: int
    size: int

    @property
    def first(self) -> int:
        """The position of the page's first row in the list (1-based), 0 on an empty page."""
        return self.skipped + 1 if self.rows else 0

    @property
    def last(self) -> int:
        """The position of the page's last row, 0 on an empty page."""
        return self.skipped + len(self.rows)

    @property
    def has_previous(self) -> bool:
        return self.skipped > 0 and bool(self.rows)

    @property
    def has_next(self) -> bool:
        return bool(self.rows) and self.last < self.total


def _typed(keys: Sequence[ColumnElement[Any]], values: tuple[KeyValue, ...]) -> Tuple:
    """The key values as a row of bound parameters of the key columns' types."""
    return tuple_(*(literal(v, type_=k.type) for k, v in zip(keys, values, strict=True)))


def _comes_before(
    keys: Sequence[ColumnElement[Any]], values: tuple[KeyValue, ...], *, descending: bool
) -> ColumnElement[bool]:
    """Rows that the list puts before the row whose key is `values`."""
    row, bound = tuple_(*keys), _typed(keys, values)
    earlier: ColumnElement[bool] = row > bound if descending else row < bound
    return earlier


def _comes_after(
    keys: Sequence[ColumnElement[Any]], values: tuple[KeyValue, ...], *, descending: bool
) -> ColumnElement[bool]:
    """Rows that the list puts after the row whose key is `values`."""
    row, bound = tuple_(*keys), _typed(keys, values)
    later: ColumnElement[bool] = row < bound if descending else row > bound
    return later


def seek_page(
    conn: Connection,
    stmt: Select[Any],
    *,
    where: Sequence[ColumnElement[bool]],
    keys: Sequence[ColumnElement[Any]],
    descending: bool,
    seek: Seek | None,
    size: int,
) -> SeekPage:
    """One page of the rows `stmt` selects under `where`, ordered by `keys`.

    Args:
        conn: A connection.
        stmt: The SELECT of the rows (its columns must include every key column).
        where: The list's conditions (its scope and filters); a cursor never widens them.
        keys: The sort key columns, whose values together are unique.
        descending: Newest (largest) first.
        seek: After (or before) which row the page starts; None for the first page.
        size: The most rows a page holds.

    Returns:
        The page, with the list's total and how many rows come before the page. A Previous page
        that would come up short (rows went away before it) is the list's first page instead.
    """
    order = [k.desc() if descending else k.asc() for k in keys]
    backwards = [k.asc() if descending else k.desc() for k in keys]
    total = int(
        conn.execute(select(func.count()).select_from(stmt.where(*where).subquery())).scalar_one()
    )
    rows: list[Row[Any]]
    if seek is None:
        rows = list(conn.execute(stmt.where(*where).order_by(*order).limit(size)))
    elif not seek.before:
        after = _comes_after(keys, seek.key, descending=descending)
        rows = list(conn.execute(stmt.where(*where, after).order_by(*order).limit(size)))
    else:
        before = _comes_before(keys, seek.key, descending=descending)
        rows = list(conn.execute(stmt.where(*where, before).order_by(*backwards).limit(size)))
        rows.reverse()
        if len(rows) < size:
            rows = list(conn.execute(stmt.where(*where).order_by(*order).limit(size)))
    row_keys = [tuple(row._mapping[k] for k in keys) for row in rows]
    if row_keys:
        ahead = _comes_before(keys, row_keys[0], descending=descending)
        skipped = int(
            conn.execute(
                select(func.count()).select_from(stmt.where(*where, ahead).subquery())
            ).scalar_one()
        )
    else:
        skipped = total if seek is not None and not seek.before else 0
    return SeekPage(rows=rows, keys=row_keys, total=total, skipped=skipped, size=size)
