"""event cursors: where a district's next delta continues a source's feed of changes.

Revision ID: 0018_event_cursors
Revises: 0017_run_lists

Clever has no `dateLastModified` filter; its Events API is read from the newest event a sync
applied (`starting_after`). Two nullable columns on `delta_watermarks`, so the previous release
keeps working against the upgraded schema (it never reads them). See docs/decisions/0043.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_event_cursors"
down_revision = "0017_run_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("delta_watermarks", sa.Column("event_cursor", sa.String(64), nullable=True))
    op.add_column(
        "delta_watermarks",
        sa.Column("event_cursor_read_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("delta_watermarks") as batch:
        batch.drop_column("event_cursor_read_at")
        batch.drop_column("event_cursor")
