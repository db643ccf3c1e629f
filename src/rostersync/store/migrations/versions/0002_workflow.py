"""workflow tables: sync locks, run plans, workflow settings, and the issue lifecycle.

Revision ID: 0002_workflow
Revises: 0001_initial

Frozen like 0001: it spells out its columns instead of importing `workflow_tables.py`. Only new
tables and nullable columns, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_workflow"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

ID = 36


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "sync_locks",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("run_id", sa.String(ID), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        _timestamp("acquired_at"),
        _timestamp("expires_at"),
        _fk("sync_locks", "district_id", "districts"),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_sync_locks")),
    )
    op.create_table(
        "run_plans",
        sa.Column("run_id", sa.String(ID), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=True),
        sa.Column("held_reason", sa.Text(), nullable=True),
        sa.Column("approves_run_id", sa.String(ID), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        _timestamp("decided_at", nullable=True),
        _fk("run_plans", "run_id", "sync_runs"),
        _fk("run_plans", "district_id", "districts"),
        _fk("run_plans", "approves_run_id", "sync_runs"),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_plans")),
    )
    op.create_index(op.f("ix_run_plans_district_id"), "run_plans", ["district_id"])
    op.create_table(
        "workflow_settings",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("safeguards", sa.JSON(), nullable=True),
        sa.Column("pause_start", sa.Date(), nullable=True),
        sa.Column("pause_end", sa.Date(), nullable=True),
        _timestamp("updated_at"),
        _fk("workflow_settings", "district_id", "districts"),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_workflow_settings")),
    )
    # Batch mode rebuilds the table on SQLite, which cannot add a foreign key in place.
    with op.batch_alter_table("validation_issues") as batch:
        batch.add_column(sa.Column("last_seen_run", sa.String(ID), nullable=True))
        batch.add_column(sa.Column("closed_by_run", sa.String(ID), nullable=True))
        batch.create_foreign_key(
            op.f("fk_validation_issues_last_seen_run_sync_runs"),
            "sync_runs",
            ["last_seen_run"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_validation_issues_closed_by_run_sync_runs"),
            "sync_runs",
            ["closed_by_run"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("validation_issues") as batch:
        batch.drop_constraint(
            op.f("fk_validation_issues_closed_by_run_sync_runs"), type_="foreignkey"
        )
        batch.drop_constraint(
            op.f("fk_validation_issues_last_seen_run_sync_runs"), type_="foreignkey"
        )
        batch.drop_column("closed_by_run")
        batch.drop_column("last_seen_run")
    op.drop_table("workflow_settings")
    op.drop_table("run_plans")
    op.drop_table("sync_locks")
