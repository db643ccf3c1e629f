"""privacy: an append-only audit log, and a record of every district purge.

Revision ID: 0011_privacy
Revises: 0009_progress

Triggers on `audit_log` refuse every UPDATE, and every DELETE whose district holds no row in
`audit_purge_permits` (a purge inserts one inside its own transaction and removes it before
committing). They hold for any client of the database, not only this application. Frozen like
0001: it spells out its columns instead of importing `privacy_tables.py`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_privacy"
down_revision = "0009_progress"
branch_labels = None
depends_on = None

ID = 36
REFUSED = "audit_log is append-only: rows are never changed, and leave only with a district purge"

# REFUSED is a constant of this file: nothing from outside reaches these statements.
_SQLITE = [
    f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permits p WHERE p.district_id = OLD.district_id)
    BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",  # noqa: S608
]
_POSTGRESQL = [
    f"""CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (
            SELECT 1 FROM audit_purge_permits p WHERE p.district_id = OLD.district_id
        ) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'insufficient_privilege';
    END $$""",  # noqa: S608
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "disposals",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("purged_district_id", sa.String(ID), nullable=False),
        sa.Column("district_slug", sa.String(63), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposals")),
    )
    op.create_table(
        "audit_purge_permits",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_audit_purge_permits_district_id_districts"),
        ),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_audit_purge_permits")),
    )
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("DROP TRIGGER audit_log_no_update")
    op.drop_table("audit_purge_permits")
    op.drop_table("disposals")
