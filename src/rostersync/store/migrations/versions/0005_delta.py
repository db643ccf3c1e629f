"""delta tables: each district's delta-sync watermark.

Revision ID: 0005_delta
Revises: 0004_jobs

Frozen like 0001: it spells out its columns instead of importing `delta_tables.py`. Only a new
table, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_delta"
down_revision = "0004_jobs"
branch_labels = None
depends_on = None

ID = 36


def upgrade() -> None:
    op.create_table(
        "delta_watermarks",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("watermark", sa.String(40), nullable=True),
        sa.Column("last_full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_delta_watermarks_district_id_districts"),
        ),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_delta_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("delta_watermarks")
