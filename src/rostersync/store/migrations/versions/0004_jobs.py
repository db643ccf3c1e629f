"""jobs tables: scheduled sync slots (exactly-once claims) and district quarantine.

Revision ID: 0004_jobs
Revises: 0003_web

Frozen like 0001: it spells out its columns instead of importing `jobs_tables.py`. Only new
tables, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_jobs"
down_revision = "0003_web"
branch_labels = None
depends_on = None

ID = 36


def upgrade() -> None:
    op.create_table(
        "sync_slots",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("due_slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(ID), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'finished')", name=op.f("ck_sync_slots_status")
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_sync_slots_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("district_id", "due_slot", name=op.f("pk_sync_slots")),
    )
    op.create_index(
        "uq_sync_slots_one_running_per_district",
        "sync_slots",
        ["district_id"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_index(
        op.f("ix_sync_slots_status_lease_expires_at"),
        "sync_slots",
        ["status", "lease_expires_at"],
    )
    op.create_table(
        "district_jobs",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quarantine_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_district_jobs_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_district_jobs")),
    )


def downgrade() -> None:
    op.drop_table("district_jobs")
    op.drop_index(op.f("ix_sync_slots_status_lease_expires_at"), table_name="sync_slots")
    op.drop_index("uq_sync_slots_one_running_per_district", table_name="sync_slots")
    op.drop_table("sync_slots")
