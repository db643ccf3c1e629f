"""signin tables: staff invitations, ClassLink data-manager grants, TOTP, staff audit.

Revision ID: 0008_signin
Revises: 0007_push

Frozen like 0001: it spells out its columns instead of importing `signin_tables.py`. Only new
tables, so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_signin"
down_revision = "0007_push"
branch_labels = None
depends_on = None

ID = 36
HASH = 64
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("token_hash", sa.String(HASH), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("invited_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("staff_id", sa.String(ID), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_staff_invitations_district_id_districts"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_invitations_staff_id_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_invitations_token_hash")),
    )
    op.create_index(op.f("ix_staff_invitations_district_id"), "staff_invitations", ["district_id"])
    op.create_table(
        "staff_session_grants",
        sa.Column("token_hash", sa.String(HASH), nullable=False),
        sa.Column("staff_id", sa.String(ID), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_hash"],
            ["web_sessions.token_hash"],
            name=op.f("fk_staff_session_grants_token_hash_web_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_session_grants_staff_id_staff_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_staff_session_grants_district_id_districts"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_staff_session_grants")),
    )
    op.create_index(op.f("ix_staff_session_grants_staff_id"), "staff_session_grants", ["staff_id"])
    op.create_index(
        op.f("ix_staff_session_grants_district_id"), "staff_session_grants", ["district_id"]
    )
    op.create_table(
        "staff_totp",
        sa.Column("staff_id", sa.String(ID), nullable=False),
        sa.Column("pending_ciphertext", sa.String(512), nullable=True),
        sa.Column("last_step", BIGINT, nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_totp_staff_id_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_totp")),
    )
    op.create_table(
        "staff_sign_in_codes",
        sa.Column("token_hash", sa.String(HASH), nullable=False),
        sa.Column("staff_id", sa.String(ID), nullable=False),
        sa.Column("next_path", sa.String(2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_staff_sign_in_codes_staff_id_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_staff_sign_in_codes")),
    )
    op.create_index(op.f("ix_staff_sign_in_codes_staff_id"), "staff_sign_in_codes", ["staff_id"])
    op.create_table(
        "staff_audit",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(ID), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_staff_audit_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_audit")),
    )
    op.create_index(op.f("ix_staff_audit_staff_id"), "staff_audit", ["staff_id"])
    op.create_index(op.f("ix_staff_audit_district_id"), "staff_audit", ["district_id"])


def downgrade() -> None:
    op.drop_table("staff_audit")
    op.drop_table("staff_sign_in_codes")
    op.drop_table("staff_totp")
    op.drop_table("staff_session_grants")
    op.drop_table("staff_invitations")
