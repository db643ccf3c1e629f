"""What a district's health page reads: its run totals, its open issues by severity, the files
it pushed. Set-based: each function is one query whatever the number of runs, issues or files.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from rostersync.store.push import PushedBundle
from rostersync.store.push_tables import pushed_bundles
from rostersync.store.tables import sync_runs, validation_issues

__all__ = [
    "IssueTotals",
    "RunTotals",
    "issue_totals",
    "pushed_files",
    "run_totals",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTotals:
    """How many runs a district has, and when a sync last applied its roster.

    Attributes:
        total: Every run of the district (syncs and previews, whatever their outcome).
        last_success_at: When the newest succeeded sync (mode apply) finished; None if none did.
        last_success_id: That run's id.
    """

    total: int
    last_success_at: datetime | None
    last_success_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueTotals:
    """A district's open validation issues, by severity."""

    errors: int
    warnings: int


def run_totals(conn: Connection, district_id: str) -> RunTotals:
    """The district's run count and its newest succeeded sync, in one query."""
    t = sync_runs
    newest = (
        select(t.c.id)
        .where(
            t.c.district_id == district_id,
            t.c.status == "succeeded",
            t.c.mode == "apply",
            t.c.finished_at.is_not(None),
        )
        .order_by(t.c.finished_at.desc(), t.c.id)
        .limit(1)
        .scalar_subquery()
    )
    total = select(func.count()).select_from(t).where(t.c.district_id == district_id)
    finished = select(t.c.finished_at).where(t.c.id == newest)
    row = conn.execute(
        select(
            total.scalar_subquery().label("total"),
            newest.label("id"),
            finished.scalar_subquery().label("finished_at"),
        )
    ).one()
    return RunTotals(total=int(row.total), last_success_at=row.finished_at, last_success_id=row.id)


def issue_totals(conn: Connection, district_id: str) -> IssueTotals:
    """The district's open errors and warnings, in one query."""
    t = validation_issues
    row = conn.execute(
        select(
            func.count(case((t.c.severity == "error", 1))).label("errors"),
            func.count(case((t.c.severity != "error", 1))).label("warnings"),
        ).where(t.c.district_id == district_id, t.c.status == "open")
    ).one()
    return IssueTotals(errors=int(row.errors), warnings=int(row.warnings))


def pushed_files(
    conn: Connection, district_id: str, *, limit: int
) -> tuple[list[PushedBundle], int]:
    """The district's newest pushed bundles (at most `limit`, newest first) and how many it
    pushed in all, in one query (the total rides on each row as a window count)."""
    t = pushed_bundles
    columns = [t.c[name] for name in PushedBundle.__dataclass_fields__]
    rows = conn.execute(
        select(*columns, func.count().over().label("total"))
        .where(t.c.district_id == district_id)
        .order_by(t.c.received_at.desc(), t.c.id.desc())
        .limit(limit)
    ).all()
    if not rows:
        return [], 0
    files = [PushedBundle(**{k: v for k, v in r._mapping.items() if k != "total"}) for r in rows]
    return files, int(rows[0].total)
