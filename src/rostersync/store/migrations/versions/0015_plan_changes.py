"""plan changes: every change a held run's plan would make, listed in full for its review.

Revision ID: 0015_plan_changes
Revises: 0014_api_tokens

Frozen like 0001: it spells out its columns instead of importing `workflow_tables.py`. Only a
new table, so the previous release keeps working against the upgraded schema (it neither writes
nor reads it; a run it holds is reviewed from its plan's summary, which says the list is partial).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_plan_changes"
down_revision = "0014_api_tokens"
branch_labels = None
depends_on = None

ID = 36
SOURCED_ID = 255


def upgrade() -> None:
    op.create_table(
        "plan_changes",
        sa.Column("run_id", sa.String(ID), nullable=False),
        sa.Column("section", sa.Integer(), nullable=False),
        sa.Column("sourced_id", sa.String(SOURCED_ID), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run_plans.run_id"], name=op.f("fk_plan_changes_run_id_run_plans")
        ),
        sa.PrimaryKeyConstraint("run_id", "section", "sourced_id", name=op.f("pk_plan_changes")),
    )


def downgrade() -> None:
    op.drop_table("plan_changes")
