"""web tables.

Revision ID: 0003_web
Revises: 0002_workflow
"""

from __future__ import annotations

revision = "0003_web"
down_revision = "0002_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
