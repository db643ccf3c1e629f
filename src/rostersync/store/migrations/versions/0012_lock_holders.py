"""lock holders: who holds a district's sync lock (host, pid) and when it last showed it was alive.

Revision ID: 0012_lock_holders
Revises: 0011_privacy

Frozen like 0001: it spells out its columns. Only nullable columns are added, so the previous
release keeps working against the upgraded schema (its rows leave them empty, and an empty
heartbeat falls back to the old expiry).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_lock_holders"
down_revision = "0011_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_locks", sa.Column("host", sa.String(255), nullable=True))
    op.add_column("sync_locks", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column(
        "sync_locks", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_locks") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("pid")
        batch.drop_column("host")
