"""The Educator Portal's first schema: districts, roster, eligibility, runs, issues, audit.

Revision ID: 0001_initial
Revises:
Create Date: 2026-07-01

This revision is frozen: it spells out its own columns instead of importing `tables.py`, so later
changes to the metadata are made by new revisions, never by editing this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 36
SOURCED_ID = 255


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _district_fk(table: str) -> list[Any]:
    return [
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f(f"fk_{table}_district_id_districts")
        ),
    ]


def _roster_table(table: str, *columns: Any, hand_made: bool = False) -> None:
    """Create a roster table: the bookkeeping every synced kind shares, then its own columns."""
    op.create_table(
        table,
        sa.Column("id", sa.String(ID), nullable=False),
        *_district_fk(table),
        sa.Column("sourced_id", sa.String(SOURCED_ID), nullable=hand_made),
        sa.Column("content_hash", sa.String(32), nullable=hand_made),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _timestamp("deactivated_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "district_id", "sourced_id", name=op.f(f"uq_{table}_district_id_sourced_id")
        ),
    )


def _person_columns(table: str) -> list[Any]:
    return [
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("given_name", sa.String(255), nullable=False),
        sa.Column("family_name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), server_default="", nullable=False),
        sa.Column("school_sourced_ids", sa.JSON(), nullable=False),
        sa.Column("school_id", sa.String(ID), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("manually_rostered", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["orgs.id"], name=op.f(f"fk_{table}_school_id_orgs")
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("classlink_tenant_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), server_default="onboarding", nullable=False),
        sa.Column("go_live_date", sa.Date(), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "status IN ('onboarding', 'live', 'paused')", name=op.f("ck_districts_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("slug", name=op.f("uq_districts_slug")),
    )
    op.create_table(
        "integrations",
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("source_kind", sa.String(32), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("key_ciphertext", sa.Text(), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("data_manager_emails", sa.JSON(), nullable=False),
        sa.Column("grades_provided", sa.Boolean(), nullable=False),
        sa.Column("unique_emails_provided", sa.Boolean(), nullable=False),
        sa.Column("student_id_field", sa.String(100), nullable=False),
        sa.Column("eligibility_source", sa.String(16), nullable=False),
        sa.Column("eligibility_field", sa.String(100), nullable=True),
        sa.Column("sync_frequency", sa.String(16), nullable=False),
        sa.Column("sync_days", sa.JSON(), nullable=False),
        sa.Column("sync_interval_days", sa.Integer(), nullable=True),
        sa.Column("sync_time", sa.String(5), nullable=False),
        sa.Column("go_live_date", sa.Date(), nullable=True),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "eligibility_source IN ('portal', 'metadata')",
            name=op.f("ck_integrations_eligibility_source"),
        ),
        sa.CheckConstraint(
            "sync_frequency IN ('daily', 'weekdays', 'weekly', 'every_n_days')",
            name=op.f("ck_integrations_sync_frequency"),
        ),
        sa.CheckConstraint(
            "sync_interval_days IS NULL OR (sync_interval_days >= 1 AND sync_interval_days < 30)",
            name=op.f("ck_integrations_sync_interval_under_30_days"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_integrations_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_integrations")),
    )

    _roster_table(
        "orgs",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("identifier", sa.String(255), server_default="", nullable=False),
        sa.Column("parent_sourced_id", sa.String(SOURCED_ID), nullable=True),
    )
    _roster_table(
        "academic_sessions",
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("start_date", sa.String(32), nullable=False),
        sa.Column("end_date", sa.String(32), nullable=False),
        sa.Column("school_year", sa.String(16), nullable=False),
        sa.Column("parent_sourced_id", sa.String(SOURCED_ID), nullable=True),
    )
    _roster_table(
        "courses",
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("course_code", sa.String(255), nullable=False),
        sa.Column("org_sourced_id", sa.String(SOURCED_ID), nullable=True),
        sa.Column("school_year_sourced_id", sa.String(SOURCED_ID), nullable=True),
        sa.Column("grades", sa.JSON(), nullable=False),
    )
    _roster_table(
        "classes",
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("class_code", sa.String(255), nullable=False),
        sa.Column("class_type", sa.String(32), nullable=False),
        sa.Column("course_sourced_id", sa.String(SOURCED_ID), nullable=True),
        sa.Column("school_sourced_id", sa.String(SOURCED_ID), nullable=True),
        sa.Column("course_id", sa.String(ID), nullable=True),
        sa.Column("school_id", sa.String(ID), nullable=True),
        sa.Column("term_sourced_ids", sa.JSON(), nullable=False),
        sa.Column("grades", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_classes_course_id_courses")
        ),
        sa.ForeignKeyConstraint(["school_id"], ["orgs.id"], name=op.f("fk_classes_school_id_orgs")),
    )
    op.create_index(op.f("ix_classes_school_id"), "classes", ["school_id"])
    _roster_table(
        "educators",
        sa.Column("role", sa.String(32), nullable=False),
        *_person_columns("educators"),
        hand_made=True,
    )
    op.create_index(
        "ix_educators_district_id_lower_email",
        "educators",
        ["district_id", sa.text("lower(email)")],
    )
    _roster_table(
        "students",
        sa.Column("student_id", sa.String(255), server_default="", nullable=False),
        sa.Column("grade", sa.String(16), server_default="", nullable=False),
        *_person_columns("students"),
        hand_made=True,
    )
    op.create_index(
        "ix_students_district_id_lower_email",
        "students",
        ["district_id", sa.text("lower(email)")],
    )
    op.create_index(
        op.f("ix_students_district_id_student_id"), "students", ["district_id", "student_id"]
    )
    _roster_table(
        "enrollments",
        sa.Column("class_sourced_id", sa.String(SOURCED_ID), nullable=False),
        sa.Column("school_sourced_id", sa.String(SOURCED_ID), nullable=False),
        sa.Column("user_sourced_id", sa.String(SOURCED_ID), nullable=False),
        sa.Column("class_id", sa.String(ID), nullable=False),
        sa.Column("school_id", sa.String(ID), nullable=True),
        sa.Column("student_id", sa.String(ID), nullable=True),
        sa.Column("educator_id", sa.String(ID), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("begin_date", sa.String(32), nullable=True),
        sa.Column("end_date", sa.String(32), nullable=True),
        sa.CheckConstraint(
            "(student_id IS NULL) <> (educator_id IS NULL)",
            name=op.f("ck_enrollments_one_person"),
        ),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_enrollments_class_id_classes")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["orgs.id"], name=op.f("fk_enrollments_school_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_enrollments_student_id_students")
        ),
        sa.ForeignKeyConstraint(
            ["educator_id"], ["educators.id"], name=op.f("fk_enrollments_educator_id_educators")
        ),
    )
    op.create_index(op.f("ix_enrollments_class_id"), "enrollments", ["class_id"])
    op.create_index(op.f("ix_enrollments_student_id"), "enrollments", ["student_id"])
    op.create_index(op.f("ix_enrollments_educator_id"), "enrollments", ["educator_id"])

    op.create_table(
        "eligibility",
        sa.Column("student_id", sa.String(ID), nullable=False),
        *_district_fk("eligibility"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=True),
        sa.Column("source", sa.String(128), nullable=False),
        _timestamp("changed_at"),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.CheckConstraint(
            "status IN ('eligible', 'not_eligible', 'unconfirmed')",
            name=op.f("ck_eligibility_status"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_eligibility_student_id_students")
        ),
        sa.PrimaryKeyConstraint("student_id", name=op.f("pk_eligibility")),
    )
    op.create_index(op.f("ix_eligibility_district_id"), "eligibility", ["district_id"])

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(ID), nullable=False),
        *_district_fk("sync_runs"),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("mode IN ('apply', 'preview')", name=op.f("ck_sync_runs_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(
        op.f("ix_sync_runs_district_id_started_at"), "sync_runs", ["district_id", "started_at"]
    )

    op.create_table(
        "validation_issues",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("run_id", sa.String(ID), nullable=False),
        *_district_fk("validation_issues"),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("sourced_id", sa.String(SOURCED_ID), nullable=False),
        sa.Column("field", sa.String(100), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fix", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="open", nullable=False),
        _timestamp("created_at"),
        _timestamp("closed_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'closed')", name=op.f("ck_validation_issues_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_validation_issues_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_issues")),
    )
    op.create_index(op.f("ix_validation_issues_run_id"), "validation_issues", ["run_id"])
    op.create_index(
        op.f("ix_validation_issues_district_id_status"),
        "validation_issues",
        ["district_id", "status"],
    )

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        *_district_fk("audit_log"),
        sa.Column("run_id", sa.String(ID), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(ID), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        _timestamp("at"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_audit_log_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_district_id_at"), "audit_log", ["district_id", "at"])
    op.create_index(op.f("ix_audit_log_entity_id"), "audit_log", ["entity_id"])


def downgrade() -> None:
    # Dependants first; dropping a table drops its indexes with it.
    for table in (
        "audit_log",
        "validation_issues",
        "sync_runs",
        "eligibility",
        "enrollments",
        "students",
        "educators",
        "classes",
        "courses",
        "academic_sessions",
        "orgs",
        "integrations",
        "districts",
    ):
        op.drop_table(table)
