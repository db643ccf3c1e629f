"""admin tables.

Revision ID: 0006_admin
Revises: 0005_delta
"""

from __future__ import annotations

revision = "0006_admin"
down_revision = "0005_delta"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
