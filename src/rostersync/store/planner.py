"""Steering SQLite's query planner where its guesses go wrong at scale.

Without statistics (a portal database is never ANALYZEd), SQLite guesses that `district_id = ?`
on an index matches about ten rows. Every roster row of a district shares its `district_id`, so
in a query that also names rows by a unique key (`id IN (…)`, an eligibility row's
`student_id`), the guess walks the district's index and tests each of its rows against the
list: a million-student district's eligibility, read 5,000 students at a time, was read whole
200 times over. `unindexed(district_id) == …` renders as `+district_id = ?`, which SQLite never
answers from an index (the documented way to rule a term out), so the unique key is probed and
the district is only checked. PostgreSQL keeps statistics and plans well; it gets the column
as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class unindexed(FunctionElement[str]):
    """A column compared without its index on SQLite (`+column`); the column elsewhere."""

    type = String()
    inherit_cache = True

    def __init__(self, column: ColumnElement[str]) -> None:
        super().__init__(column)


@compiles(unindexed)
def _as_is(element: unindexed, compiler: Any, **kw: Any) -> str:
    rendered: str = compiler.process(element.clauses, **kw)
    return rendered


@compiles(unindexed, "sqlite")
def _unary_plus(element: unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"
