"""The Educator Portal's tables, as SQLAlchemy Core metadata.

Portal ids are UUID strings made in Python (see docs/decisions/0003), so a bulk insert needs no
read-back. Every roster table keys the source's id as `(district_id, sourced_id)`: sourcedIds are
only unique inside one district. Dates that come from the source (term and enrollment dates) are
kept as the text the source sent: validation does not check their format, and a guess at parsing
would lose data. The first revision in `migrations/versions` must describe exactly these tables;
a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.types import TypeDecorator

from rostersync.domain.records import EntityKind
from rostersync.store.sort_keys import (
    issue_name_default,
    issue_school_default,
    person_name_default,
)

# Stable constraint names, so later migrations can drop or alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID = 36  # a UUID in its canonical text form
SOURCED_ID = 255


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL.

    SQLite keeps no offset, so values are normalised to UTC on the way in and marked UTC on the
    way out; a naive datetime is refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (use datetime.now(UTC))")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _district_fk() -> Column[str]:
    return Column("district_id", String(ID), ForeignKey("districts.id"), nullable=False)


def _roster_table(name: str, *columns: Any, hand_made: bool = False) -> Table:
    """A roster table: the bookkeeping every synced kind shares, plus its own columns.

    `hand_made` tables (educators, students) also hold accounts made by hand or by spreadsheet,
    which have no sourcedId and no content hash until a sync matches them.
    """
    return Table(
        name,
        metadata,
        Column("id", String(ID), primary_key=True),
        _district_fk(),
        Column("sourced_id", String(SOURCED_ID), nullable=hand_made),
        Column("content_hash", String(32), nullable=hand_made),
        Column("active", Boolean, nullable=False, server_default=true()),
        Column("deactivated_at", UtcDateTime, nullable=True),
        Column("created_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        *columns,
        # Also the district_id index: district_id leads it, so no second index is needed.
        UniqueConstraint("district_id", "sourced_id"),
    )


districts = Table(
    "districts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("slug", String(63), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("display_name", String(255), nullable=False),
    Column("city", String(100), nullable=False),
    Column("state", String(32), nullable=False),
    Column("classlink_tenant_id", String(64), nullable=True),
    Column("status", String(16), nullable=False, server_default="onboarding"),
    Column("go_live_date", Date, nullable=True),
    Column("time_zone", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('onboarding', 'live', 'paused')", name="status"),
)

integrations = Table(
    "integrations",
    metadata,
    Column("district_id", String(ID), ForeignKey("districts.id"), primary_key=True),
    Column("source_kind", String(32), nullable=False),
    Column("source_url", Text, nullable=False),
    # Fernet tokens (store/secrets.py); the plaintext never reaches the database.
    Column("key_ciphertext", Text, nullable=False),
    Column("secret_ciphertext", Text, nullable=False),
    Column("data_manager_emails", JSON, nullable=False),
    Column("grades_provided", Boolean, nullable=False),
    Column("unique_emails_provided", Boolean, nullable=False),
    Column("student_id_field", String(100), nullable=False),
    Column("eligibility_source", String(16), nullable=False),
    Column("eligibility_field", String(100), nullable=True),
    Column("sync_frequency", String(16), nullable=False),
    Column("sync_days", JSON, nullable=False),
    Column("sync_interval_days", Integer, nullable=True),
    Column("sync_time", String(5), nullable=False),
    Column("go_live_date", Date, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("eligibility_source IN ('portal', 'metadata')", name="eligibility_source"),
    CheckConstraint(
        "sync_frequency IN ('daily', 'weekdays', 'weekly', 'every_n_days')", name="sync_frequency"
    ),
    # The service agreement: a district's roster is never more than 30 days stale.
    CheckConstraint(
        "sync_interval_days IS NULL OR (sync_interval_days >= 1 AND sync_interval_days < 30)",
        name="sync_interval_under_30_days",
    ),
)

orgs = _roster_table(
    "orgs",
    Column("name", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("identifier", String(255), nullable=False, server_default=""),
    Column("parent_sourced_id", String(SOURCED_ID), nullable=True),
)

academic_sessions = _roster_table(
    "academic_sessions",
    Column("title", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("start_date", String(32), nullable=False),
    Column("end_date", String(32), nullable=False),
    Column("school_year", String(16), nullable=False),
    Column("parent_sourced_id", String(SOURCED_ID), nullable=True),
)

courses = _roster_table(
    "courses",
    Column("title", String(255), nullable=False),
    Column("course_code", String(255), nullable=False),
    Column("org_sourced_id", String(SOURCED_ID), nullable=True),
    Column("school_year_sourced_id", String(SOURCED_ID), nullable=True),
    Column("grades", JSON, nullable=False),
)


def _row_hash_columns() -> list[Any]:
    """The hash of the source row a record was last written from, and the content hash it was
    written with: while that is still the record's, an identical row is known unchanged without
    being read into a record (`domain.unchanged_rows`, migration 0019)."""
    return [
        Column("row_hash", String(16), nullable=True),
        Column("row_hash_of", String(32), nullable=True),
    ]


classes = _roster_table(
    "classes",
    Column("title", String(255), nullable=False),
    Column("class_code", String(255), nullable=False),
    Column("class_type", String(32), nullable=False),
    Column("course_sourced_id", String(SOURCED_ID), nullable=True),
    Column("school_sourced_id", String(SOURCED_ID), nullable=True),
    Column("course_id", String(ID), ForeignKey("courses.id"), nullable=True),
    Column("school_id", String(ID), ForeignKey("orgs.id"), nullable=True),
    Column("term_sourced_ids", JSON, nullable=False),
    Column("grades", JSON, nullable=False),
    *_row_hash_columns(),
    Index(None, "school_id"),
)


def _person_columns() -> list[Any]:
    return [
        Column("username", String(255), nullable=False),
        Column("given_name", String(255), nullable=False),
        Column("family_name", String(255), nullable=False),
        Column("email", String(320), nullable=False, server_default=""),
        Column("school_sourced_ids", JSON, nullable=False),
        # The first school the source lists: the one the portal files the account under.
        Column("school_id", String(ID), ForeignKey("orgs.id"), nullable=True),
        Column("enabled", Boolean, nullable=False, server_default=true()),
        Column("manually_rostered", Boolean, nullable=False, server_default=false()),
        # The folded full name search matches (`store.sort_keys`, migration 0016).
        Column("name_key", Text, nullable=False, server_default="", default=person_name_default),
        *_row_hash_columns(),
    ]


educators = _roster_table(
    "educators",
    Column("role", String(32), nullable=False),
    *_person_columns(),
    hand_made=True,
)

students = _roster_table(
    "students",
    Column("student_id", String(255), nullable=False, server_default=""),
    Column("grade", String(16), nullable=False, server_default=""),
    *_person_columns(),
    hand_made=True,
)

# Sign-in and matching look accounts up by email without regard to case.
Index(
    "ix_educators_district_id_lower_email", educators.c.district_id, func.lower(educators.c.email)
)
Index("ix_students_district_id_lower_email", students.c.district_id, func.lower(students.c.email))
Index(None, students.c.district_id, students.c.student_id)
# Search by name reads these instead of the tables' rows (migration 0016).
for _people in (students, educators):
    Index(
        f"ix_{_people.name}_district_id_name_key",
        _people.c.district_id,
        _people.c.name_key,
        _people.c.id,
    )

enrollments = _roster_table(
    "enrollments",
    Column("class_sourced_id", String(SOURCED_ID), nullable=False),
    Column("school_sourced_id", String(SOURCED_ID), nullable=False),
    Column("user_sourced_id", String(SOURCED_ID), nullable=False),
    Column("class_id", String(ID), ForeignKey("classes.id"), nullable=False),
    Column("school_id", String(ID), ForeignKey("orgs.id"), nullable=True),
    Column("student_id", String(ID), ForeignKey("students.id"), nullable=True),
    Column("educator_id", String(ID), ForeignKey("educators.id"), nullable=True),
    Column("role", String(32), nullable=False),
    Column("primary", Boolean, nullable=False, server_default=false()),
    Column("begin_date", String(32), nullable=True),
    Column("end_date", String(32), nullable=True),
    CheckConstraint("(student_id IS NULL) <> (educator_id IS NULL)", name="one_person"),
    Index(None, "class_id"),
    Index(None, "student_id"),
    Index(None, "educator_id"),
)

eligibility = Table(
    "eligibility",
    metadata,
    Column("student_id", String(ID), ForeignKey("students.id"), primary_key=True),
    _district_fk(),
    Column("status", String(16), nullable=False),
    Column("category", String(16), nullable=True),
    Column("source", String(128), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("changed_by", String(128), nullable=False),
    CheckConstraint("status IN ('eligible', 'not_eligible', 'unconfirmed')", name="status"),
    Index(None, "district_id"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    _district_fk(),
    Column("trigger", String(32), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    # Per-kind outcomes, skips, issue totals, requests and retries: see SyncReport.as_counts_json.
    Column("counts", JSON, nullable=True),
    Column("error", Text, nullable=True),
    CheckConstraint("mode IN ('apply', 'preview')", name="mode"),
    Index(None, "district_id", "started_at"),
)

# The issues page's orders: a record's issues by problem (errors first), by name, by school,
# unnamed records (or at no school) last; the tail makes every key unique.
_ISSUE_TAIL = ("entity", "sourced_id", "field", "id")
ISSUE_BY_PROBLEM = ("severity", "code", "name_sort", *_ISSUE_TAIL)
ISSUE_BY_NAME = ("name_sort", "severity", "code", *_ISSUE_TAIL)
ISSUE_BY_SCHOOL = ("school_sort", "name_sort", "severity", "code", *_ISSUE_TAIL)

validation_issues = Table(
    "validation_issues",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("run_id", String(ID), ForeignKey("sync_runs.id"), nullable=False),
    _district_fk(),
    Column("entity", String(32), nullable=False),
    Column("sourced_id", String(SOURCED_ID), nullable=False),
    Column("field", String(100), nullable=False),
    Column("code", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("fix", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    # The issue lifecycle (`store.workflow`, migration 0002): the run that last saw an open
    # issue, and the run that closed it.
    Column("last_seen_run", String(ID), ForeignKey("sync_runs.id"), nullable=True),
    Column("closed_by_run", String(ID), ForeignKey("sync_runs.id"), nullable=True),
    # The record as people know it, from what the roster sent (`domain.issues.IssueSubject`,
    # migration 0013): empty on issues found before, or of a record the pull could not name.
    Column("subject_name", Text, nullable=True),
    Column("subject_role", Text, nullable=True),
    Column("subject_student_id", Text, nullable=True),
    Column("subject_grade", Text, nullable=True),
    Column("subject_school", Text, nullable=True),
    Column("subject_code", Text, nullable=True),
    # The record's name and school as the issues page orders them, unnamed last
    # (`store.sort_keys`, migration 0016).
    Column("name_sort", Text, nullable=False, server_default="1", default=issue_name_default),
    Column("school_sort", Text, nullable=False, server_default="1", default=issue_school_default),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
    Index(None, "run_id"),
    Index(None, "district_id", "status"),
    # The issues page's three orders (`store.issue_lists`) and the API's list by id, each
    # served by an index that its filters' equalities lead.
    Index("ix_validation_issues_by_problem", "district_id", "status", *ISSUE_BY_PROBLEM),
    Index("ix_validation_issues_by_name", "district_id", "status", *ISSUE_BY_NAME),
    Index("ix_validation_issues_by_school", "district_id", "status", *ISSUE_BY_SCHOOL),
    Index("ix_validation_issues_open_by_id", "district_id", "status", "id"),
    # The issues a run closed, by id (its page's list; migration 0017).
    Index(None, "closed_by_run", "id"),
    # The page's counts per problem, school, grade and role, read from the index alone; and a
    # record found by its student ID.
    Index(
        "ix_validation_issues_open_counts",
        "district_id",
        "status",
        "severity",
        "code",
        "entity",
        "subject_school",
        "subject_grade",
        "subject_role",
        "subject_student_id",
        "id",
    ),
)

audit_log = Table(
    "audit_log",
    metadata,
    # SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets the wider type.
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    _district_fk(),
    Column("run_id", String(ID), ForeignKey("sync_runs.id"), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(ID), nullable=False),
    # Which fields changed (and before/after only where the value itself is the point, such as
    # eligibility): never names or emails.
    Column("changes", JSON, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "district_id", "at"),
    Index(None, "entity_id"),
    # A run's entries, newest first (its page's "records it changed"; migration 0017).
    Index(None, "run_id", "at", "id"),
)

ROSTER_TABLES: dict[EntityKind, Table] = {
    EntityKind.ORG: orgs,
    EntityKind.ACADEMIC_SESSION: academic_sessions,
    EntityKind.COURSE: courses,
    EntityKind.CLASS: classes,
    EntityKind.EDUCATOR: educators,
    EntityKind.STUDENT: students,
    EntityKind.ENROLLMENT: enrollments,
}
"""The table each kind of roster record is kept in, in dependency order."""
