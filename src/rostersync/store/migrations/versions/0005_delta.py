"""delta tables.

Revision ID: 0005_delta
Revises: 0004_jobs
"""

from __future__ import annotations

revision = "0005_delta"
down_revision = "0004_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
