"""What a portal holds, read the same way by every world that checks a pull left it unchanged."""

from __future__ import annotations

from sqlalchemy import func, select

from rostersync.services import Services
from rostersync.store import tables

ROSTER_TABLES = (
    tables.orgs,
    tables.academic_sessions,
    tables.courses,
    tables.classes,
    tables.educators,
    tables.students,
    tables.enrollments,
)

# Per table: sourcedId → (content hash, active). Portal ids differ between databases; these don't.
Snapshot = dict[str, dict[str, tuple[str, bool]]]


def snapshot(portal: Services) -> Snapshot:
    """What the portal holds, by sourcedId: content hash and whether active."""
    with portal.engine.connect() as conn:
        return {
            table.name: {
                row.sourced_id: (row.content_hash, row.active)
                for row in conn.execute(
                    select(table.c.sourced_id, table.c.content_hash, table.c.active)
                )
            }
            for table in ROSTER_TABLES
        }


def row_counts(portal: Services) -> dict[str, int]:
    """Rows per roster table, plus audit rows and issues: what any write would change."""
    with portal.engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (*ROSTER_TABLES, tables.audit_log, tables.validation_issues)
        }
