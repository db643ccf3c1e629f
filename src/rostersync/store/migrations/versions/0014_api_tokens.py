"""api tokens: personal API tokens of vendor staff and data managers, stored hashed.

Revision ID: 0014_api_tokens
Revises: 0013_issue_subjects

Frozen like 0001: it spells out its columns instead of importing `api_tokens_tables.py`. Only a
new table, so the previous release keeps working against the upgraded schema (it accepts no
token: its API knows only the session cookie).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_api_tokens"
down_revision = "0013_issue_subjects"
branch_labels = None
depends_on = None

ID = 36
HASH = 64
PREFIX = 16
LABEL = 100


def upgrade() -> None:
    op.create_table(
        "staff_api_tokens",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("staff_id", sa.String(ID), nullable=False),
        sa.Column("label", sa.String(LABEL), nullable=False),
        sa.Column("token_hash", sa.String(HASH), nullable=False),
        sa.Column("prefix", sa.String(PREFIX), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_api_tokens_staff_id_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_staff_api_tokens_staff_id"), "staff_api_tokens", ["staff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_api_tokens_staff_id"), table_name="staff_api_tokens")
    op.drop_table("staff_api_tokens")
