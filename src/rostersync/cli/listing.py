"""How a list command says what it left out: `--limit`, `--all`, and "showing 50 of 148".

A table shows at most `--limit` rows; `--all` shows every one. When rows were left out, the
table is followed by one line saying how many were shown of how many, and how to see more.
"""

from __future__ import annotations

from typing import Annotated, Final

import typer

# Every row: as a SQL LIMIT it is larger than any district's list.
EVERY: Final = 2**31 - 1
_ALL_KEY = "rostersync.all"


def _remember_all(ctx: typer.Context, value: bool) -> bool:
    ctx.meta[_ALL_KEY] = bool(value)
    return value


def _limit_or_every(ctx: typer.Context, value: int) -> int:
    return EVERY if ctx.meta.get(_ALL_KEY) else value


# `--all` is read first (eager), so the command's `limit` is already EVERY when it is given.
All = Annotated[
    bool,
    typer.Option(
        "--all", help="Show every row, not only --limit.", is_eager=True, callback=_remember_all
    ),
]
Limit = Annotated[
    int,
    typer.Option(
        "--limit",
        min=1,
        help="Show at most this many rows (--all: every one).",
        callback=_limit_or_every,
    ),
]


def showing(shown: int, total: int, *, offset: int = 0) -> str | None:
    """The line under a table that left rows out ("showing 50 of 148 (--limit, --all)"), or None
    when every row is shown."""
    if offset == 0 and shown >= total:
        return None
    if offset == 0:
        return f"showing {shown:,} of {total:,} (--limit, --all)"
    first, last = offset + 1, offset + shown
    where = f"{first:,}–{last:,}" if shown else "none"
    return f"showing {where} of {total:,} (--limit, --offset, --all)"
