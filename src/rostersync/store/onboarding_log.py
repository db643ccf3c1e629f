"""The onboarding wizard's progress as its audit rows record it: which step came last, and how.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from rostersync.store.tables import audit_log


@dataclass(frozen=True, slots=True)
class LoggedStep:
    """The newest audit row of one action: its position in the log, its time and its changes."""

    order: int
    at: datetime
    changes: dict[str, Any]


def newest_steps(conn: Connection, district_id: str) -> dict[str, LoggedStep]:
    """Per onboarding action (`onboarding_*`), the district's newest audit row.

    The audit log's ids grow with every row, so comparing two actions' `order` says which
    happened last (e.g. a source saved again after its connection test).
    """
    t = audit_log
    newest = (
        select(func.max(t.c.id))
        .where(t.c.district_id == district_id, t.c.action.like("onboarding_%"))
        .group_by(t.c.action)
    )
    rows = conn.execute(select(t.c.action, t.c.id, t.c.at, t.c.changes).where(t.c.id.in_(newest)))
    return {
        str(row.action): LoggedStep(int(row.id), row.at, dict(row.changes or {})) for row in rows
    }


__all__ = ["LoggedStep", "newest_steps"]
