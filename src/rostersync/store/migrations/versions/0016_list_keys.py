"""list keys: folded name keys for search and the issues page's orders, and their indexes.

Revision ID: 0016_list_keys
Revises: 0015_plan_changes

Frozen like 0001: it spells out its columns and folds names with its own copy of the rule
(`store.sort_keys`): a person's `name_key` is "given family" case-folded; an issue's `name_sort`
and `school_sort` are "0" and the folded name (or school; its first 100 characters), or "1" when
there is none. Existing
rows get their keys here, a chunk at a time in id order (Python's `str.casefold`, which neither
database's `lower()` equals). The columns have server defaults, so the previous release keeps
working against the upgraded schema (rows it writes get the blank key, and are found again once
a sync or this release rewrites them).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0016_list_keys"
down_revision = "0015_plan_changes"
branch_labels = None
depends_on = None

CHUNK = 5000
TAIL = ("entity", "sourced_id", "field", "id")
ISSUE_INDEXES = {
    "ix_validation_issues_by_problem": ("severity", "code", "name_sort", *TAIL),
    "ix_validation_issues_by_name": ("name_sort", "severity", "code", *TAIL),
    "ix_validation_issues_by_school": ("school_sort", "name_sort", "severity", "code", *TAIL),
    "ix_validation_issues_open_by_id": ("id",),
    "ix_validation_issues_open_counts": (
        "severity",
        "code",
        "entity",
        "subject_school",
        "subject_grade",
        "subject_role",
        "subject_student_id",
        "id",
    ),
}


def _fold(text: str | None) -> str:
    return (text or "").strip().casefold()


def _sort(text: str | None) -> str:
    folded = _fold(text)[:100]
    return "0" + folded if folded else "1"


def _fill(table: str, columns: tuple[str, ...], keys: dict[str, Callable[..., str]]) -> None:
    """Set `keys` (column → function of the row's `columns`) on every row, CHUNK rows a time."""
    conn = op.get_bind()
    t = sa.table(table, sa.column("id", sa.String()), *(sa.column(c) for c in (*columns, *keys)))
    after = ""
    while True:
        rows = conn.execute(
            sa.select(t.c.id, *(t.c[c] for c in columns))
            .where(t.c.id > after)
            .order_by(t.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        conn.execute(
            t.update().where(t.c.id == sa.bindparam("row_id")),
            [
                {
                    "row_id": row.id,
                    **{name: fn(*row[1:]) for name, fn in keys.items()},
                }
                for row in rows
            ],
        )
        after = rows[-1].id


def upgrade() -> None:
    for table in ("students", "educators"):
        op.add_column(table, sa.Column("name_key", sa.Text(), server_default="", nullable=False))
        _fill(
            table,
            ("given_name", "family_name"),
            {"name_key": lambda given, family: _fold(f"{given or ''} {family or ''}")},
        )
        op.create_index(
            f"ix_{table}_district_id_name_key", table, ["district_id", "name_key", "id"]
        )
    for name in ("name_sort", "school_sort"):
        op.add_column(
            "validation_issues", sa.Column(name, sa.Text(), server_default="1", nullable=False)
        )
    _fill(
        "validation_issues",
        ("subject_name", "subject_school"),
        {
            "name_sort": lambda name, school: _sort(name),
            "school_sort": lambda name, school: _sort(school),
        },
    )
    for index, columns in ISSUE_INDEXES.items():
        op.create_index(index, "validation_issues", ["district_id", "status", *columns])


def downgrade() -> None:
    for index in reversed(ISSUE_INDEXES):
        op.drop_index(index, table_name="validation_issues")
    with op.batch_alter_table("validation_issues") as batch:
        batch.drop_column("school_sort")
        batch.drop_column("name_sort")
    for table in ("educators", "students"):
        op.drop_index(f"ix_{table}_district_id_name_key", table_name=table)
        # Not a batch (a copy of the table): SQLite cannot reflect the lower(email) index a
        # copy would have to rebuild. Both databases drop a column in place.
        op.execute(f"ALTER TABLE {table} DROP COLUMN name_key")
