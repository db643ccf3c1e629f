"""progress tables: each run's live progress (phase and records pulled per collection).

Revision ID: 0009_progress
Revises: 0008_signin

Frozen like 0001: it spells out its columns instead of importing `progress_tables.py`. Only a
new table, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_progress"
down_revision = "0008_signin"
branch_labels = None
depends_on = None

ID = 36


def upgrade() -> None:
    op.create_table(
        "run_progress",
        sa.Column("run_id", sa.String(ID), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("collection", sa.String(64), nullable=True),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "phase IN ('pulling', 'validating', 'planning', 'writing', 'done')",
            name=op.f("ck_run_progress_phase"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_run_progress_district_id_districts"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_run_progress_run_id_sync_runs"),
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_progress")),
    )
    op.create_index(
        op.f("ix_run_progress_district_id"), "run_progress", ["district_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_run_progress_district_id"), table_name="run_progress")
    op.drop_table("run_progress")
