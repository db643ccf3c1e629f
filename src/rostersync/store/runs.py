"""Sync runs, their validation issues, and the audit log.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, insert, or_, select, update
from sqlalchemy.engine import Connection

from rostersync.domain.issues import IssueSubject
from rostersync.errors import NotFoundError
from rostersync.store.tables import audit_log, sync_runs, validation_issues


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncRunRecord:
    """One sync run: why it ran, how it ended, and what it counted."""

    id: str
    district_id: str
    trigger: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueRecord:
    """A validation issue as stored with its run."""

    id: str
    run_id: str
    district_id: str
    entity: str
    sourced_id: str
    field: str
    code: str
    severity: str
    message: str
    fix: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    # The record as people know it (`domain.issues.IssueSubject`); None when not known.
    subject_name: str | None = None
    subject_role: str | None = None
    subject_student_id: str | None = None
    subject_grade: str | None = None
    subject_school: str | None = None
    subject_code: str | None = None

    @property
    def subject(self) -> IssueSubject | None:
        """The record as people know it, or None for an issue stored without one."""
        values = subject_values(self)
        return IssueSubject(**values) if any(values.values()) else None

    @property
    def subject_label(self) -> str:
        """`Ada Lovelace (student, ID 1001, grade 05, Lincoln ES)`, or "" when not known."""
        subject = self.subject
        return subject.label() if subject is not None else ""


SUBJECT_FIELDS = ("name", "role", "student_id", "grade", "school", "code")


def subject_values(issue: Any) -> dict[str, str]:
    """An issue's stored `subject_*` columns as `IssueSubject` fields (None read as "")."""
    return {name: getattr(issue, f"subject_{name}", None) or "" for name in SUBJECT_FIELDS}


def subject_columns(subject: IssueSubject | None) -> dict[str, str | None]:
    """The `subject_*` column values of a subject (None for an empty value)."""
    return {
        f"subject_{name}": (getattr(subject, name) or None) if subject is not None else None
        for name in SUBJECT_FIELDS
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One audited change: who, what, which record and which fields (never personal data)."""

    id: int
    district_id: str
    run_id: str | None
    actor: str
    action: str
    entity_type: str
    entity_id: str
    changes: dict[str, Any] | None
    at: datetime


_RUN_COLUMNS = [sync_runs.c[name] for name in SyncRunRecord.__dataclass_fields__]
_ISSUE_COLUMNS = [validation_issues.c[name] for name in IssueRecord.__dataclass_fields__]
_AUDIT_COLUMNS = [audit_log.c[name] for name in AuditEntry.__dataclass_fields__]


def create_run(
    conn: Connection,
    *,
    district_id: str,
    trigger: str,
    mode: str,
    now: datetime | None = None,
) -> str:
    """Record the start of a sync run (status "running").

    Args:
        conn: A connection; the caller commits (commit before a long pull so the run is visible).
        district_id: The district being synced.
        trigger: Why it runs: manual, scheduled, demo, …
        mode: "apply" or "preview".
        now: The start time (defaults to the current time).

    Returns:
        The new run's id.
    """
    run_id = str(uuid.uuid4())
    conn.execute(
        insert(sync_runs).values(
            id=run_id,
            district_id=district_id,
            trigger=trigger,
            mode=mode,
            status="running",
            started_at=now or datetime.now(UTC),
        )
    )
    return run_id


def finish_run(
    conn: Connection,
    run_id: str,
    *,
    status: str,
    counts: dict[str, Any],
    error: str | None,
    now: datetime,
) -> None:
    """Record how a run ended.

    Args:
        conn: A connection; the caller commits.
        run_id: The run.
        status: succeeded, failed, held, …
        counts: The run's counts (JSON-serialisable).
        error: What went wrong, in words for the district's data manager, or None.
        now: The finish time.

    Raises:
        NotFoundError: No such run.
    """
    result = conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(status=status, counts=counts, error=error, finished_at=now)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no sync run {run_id!r}; `rostersync runs <district>` lists them")


def list_runs(conn: Connection, district_id: str, limit: int = 20) -> list[SyncRunRecord]:
    """A district's most recent runs, newest first."""
    stmt = (
        select(*_RUN_COLUMNS)
        .where(sync_runs.c.district_id == district_id)
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id)
        .limit(limit)
    )
    return [SyncRunRecord(**row._mapping) for row in conn.execute(stmt)]


def get_run(conn: Connection, run_id: str) -> SyncRunRecord:
    """One run by id.

    Raises:
        NotFoundError: No such run.
    """
    row = conn.execute(select(*_RUN_COLUMNS).where(sync_runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no sync run {run_id!r}; `rostersync runs <district>` lists them")
    return SyncRunRecord(**row._mapping)


def list_issues(conn: Connection, run_id: str) -> list[IssueRecord]:
    """A run's validation issues: errors first, then by kind of record and sourcedId.

    An issue is stored once, when first found, and a later run that finds it again marks it
    `last_seen_run`; so a run's issues are those it raised plus those it saw again.
    """
    t = validation_issues
    errors_first = case((t.c.severity == "error", 0), else_=1)
    stmt = (
        select(*_ISSUE_COLUMNS)
        .where(or_(t.c.run_id == run_id, t.c.last_seen_run == run_id))
        .order_by(errors_first, t.c.entity, t.c.sourced_id, t.c.field, t.c.code)
    )
    return [IssueRecord(**row._mapping) for row in conn.execute(stmt)]


def audit_entries(conn: Connection, district_id: str, limit: int = 100) -> list[AuditEntry]:
    """A district's most recent audit entries, newest first."""
    stmt = (
        select(*_AUDIT_COLUMNS)
        .where(audit_log.c.district_id == district_id)
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    )
    return [AuditEntry(**row._mapping) for row in conn.execute(stmt)]
