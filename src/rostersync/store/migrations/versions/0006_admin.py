"""admin tables: per-account failed staff sign-ins (lockout).

Revision ID: 0006_admin
Revises: 0005_delta

Frozen like 0001: it spells out its columns instead of importing `admin_tables.py`. Only a new
table, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_admin"
down_revision = "0005_delta"
branch_labels = None
depends_on = None

ID = 36


def upgrade() -> None:
    op.create_table(
        "staff_sign_in_failures",
        sa.Column("staff_id", sa.String(ID), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_sign_in_failures_staff_id_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_sign_in_failures")),
    )


def downgrade() -> None:
    op.drop_table("staff_sign_in_failures")
