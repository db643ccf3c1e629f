"""run lists: the audit entries a run wrote, and the issues it closed, found through an index.

Revision ID: 0017_run_lists
Revises: 0016_list_keys

A run's page links the records it changed (the audit log of that run, newest first) and the
issues it closed; the issues it opened already have `ix_validation_issues_run_id`. Only new
indexes, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

from alembic import op

revision = "0017_run_lists"
down_revision = "0016_list_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_audit_log_run_id_at_id"), "audit_log", ["run_id", "at", "id"])
    op.create_index(
        op.f("ix_validation_issues_closed_by_run_id"), "validation_issues", ["closed_by_run", "id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_validation_issues_closed_by_run_id"), table_name="validation_issues")
    op.drop_index(op.f("ix_audit_log_run_id_at_id"), table_name="audit_log")
