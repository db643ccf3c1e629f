"""web tables: browser sessions, one-time login states, used codes, staff accounts.

Revision ID: 0003_web
Revises: 0002_workflow

Frozen like 0001: it spells out its columns instead of importing `web_tables.py`. Only new tables,
so the previous release keeps working against the upgraded schema.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_web"
down_revision = "0002_workflow"
branch_labels = None
depends_on = None

ID = 36
HASH = 64


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _district_fk(table: str, *, nullable: bool) -> list[Any]:
    return [
        sa.Column("district_id", sa.String(ID), nullable=nullable),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f(f"fk_{table}_district_id_districts")
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(HASH), nullable=False),
        *_district_fk("web_sessions", nullable=True),
        sa.Column("person_kind", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(ID), nullable=False),
        sa.Column("csrf_token", sa.String(HASH), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.CheckConstraint(
            "person_kind IN ('student', 'educator', 'staff')",
            name=op.f("ck_web_sessions_person_kind"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_person_id"), "web_sessions", ["person_id"])
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"])
    op.create_index(op.f("ix_web_sessions_district_id"), "web_sessions", ["district_id"])
    op.create_table(
        "login_states",
        sa.Column("state_hash", sa.String(HASH), nullable=False),
        *_district_fk("login_states", nullable=True),
        sa.Column("binding_hash", sa.String(HASH), nullable=False),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next_path", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_login_states")),
    )
    op.create_index(op.f("ix_login_states_expires_at"), "login_states", ["expires_at"])
    op.create_index(op.f("ix_login_states_district_id"), "login_states", ["district_id"])
    op.create_table(
        "used_codes",
        sa.Column("code_hash", sa.String(HASH), nullable=False),
        _timestamp("used_at"),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_used_codes")),
    )
    op.create_index(op.f("ix_used_codes_used_at"), "used_codes", ["used_at"])
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("totp_secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        *_district_fk("staff_accounts", nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "role IN ('vendor_staff', 'data_manager')", name=op.f("ck_staff_accounts_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_accounts_email")),
    )
    op.create_index(op.f("ix_staff_accounts_district_id"), "staff_accounts", ["district_id"])


def downgrade() -> None:
    op.drop_table("staff_accounts")
    op.drop_index(op.f("ix_used_codes_used_at"), table_name="used_codes")
    op.drop_table("used_codes")
    op.drop_index(op.f("ix_login_states_expires_at"), table_name="login_states")
    op.drop_table("login_states")
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_person_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
