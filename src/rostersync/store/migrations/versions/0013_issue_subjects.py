"""issue subjects: the record an issue is about, by name, role, student ID, grade, school, code.

Revision ID: 0013_issue_subjects
Revises: 0012_lock_holders

Frozen like 0001: it spells out its columns. Only nullable columns are added, so the previous
release keeps working against the upgraded schema (its issues leave them empty, and the pages
show the sourcedId alone, as before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_issue_subjects"
down_revision = "0012_lock_holders"
branch_labels = None
depends_on = None

COLUMNS = (
    "subject_name",
    "subject_role",
    "subject_student_id",
    "subject_grade",
    "subject_school",
    "subject_code",
)


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("validation_issues", sa.Column(name, sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("validation_issues") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
