"""push tables: districts' push credentials and the OneRoster bundles they pushed.

Revision ID: 0007_push
Revises: 0006_admin

Frozen like 0001: it spells out its columns instead of importing `push_tables.py`. Only new
tables, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_push"
down_revision = "0006_admin"
branch_labels = None
depends_on = None

ID = 36
KEY_ID = 64


def upgrade() -> None:
    op.create_table(
        "push_credentials",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("key_id", sa.String(KEY_ID), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_push_credentials_district_id_districts"),
        ),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_push_credentials")),
        sa.UniqueConstraint("key_id", name=op.f("uq_push_credentials_key_id")),
    )
    op.create_table(
        "pushed_bundles",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(ID), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_pushed_bundles_district_id_districts"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_pushed_bundles_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_bundles")),
    )
    op.create_index(
        op.f("ix_pushed_bundles_district_id_received_at"),
        "pushed_bundles",
        ["district_id", "received_at"],
    )
    op.create_index(
        "ix_pushed_bundles_one_waiting",
        "pushed_bundles",
        ["district_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_pushed_bundles_one_waiting", table_name="pushed_bundles")
    op.drop_index(op.f("ix_pushed_bundles_district_id_received_at"), table_name="pushed_bundles")
    op.drop_table("pushed_bundles")
    op.drop_table("push_credentials")
