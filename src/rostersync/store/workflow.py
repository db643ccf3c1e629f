"""Repositories of the workflow: releasing a run's sync lock (`store.locks` takes and holds it),
run plans, decisions, the issue lifecycle, workflow settings and go-live.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, literal, or_, select, update
from sqlalchemy.engine import Connection

from rostersync.domain.issues import ValidationIssue
from rostersync.domain.match import Account, Match, normal_email
from rostersync.domain.records import EntityKind
from rostersync.domain.safeguards import PauseWindow, Safeguards
from rostersync.errors import NotFoundError
from rostersync.store import delta as store_delta
from rostersync.store.runs import IssueRecord, subject_columns, subject_values
from rostersync.store.sort_keys import issue_sort_keys
from rostersync.store.tables import (
    ROSTER_TABLES,
    audit_log,
    districts,
    sync_runs,
    validation_issues,
)
from rostersync.store.workflow_tables import plan_changes, run_plans, sync_locks, workflow_settings

# Ids per `IN (…)` list, as in store/apply.py.
CHUNK = 1000


# Lock ----------------------------------------------------------------------------------------
def release_lock(conn: Connection, *, district_id: str, run_id: str) -> None:
    """Release the lock if this run still holds it (`store.locks` takes and holds it)."""
    conn.execute(
        sync_locks.delete().where(
            sync_locks.c.district_id == district_id, sync_locks.c.run_id == run_id
        )
    )


# Matching ------------------------------------------------------------------------------------
def load_accounts(conn: Connection, district_id: str, kind: EntityKind) -> list[Account]:
    """The accounts a source person may be matched to: unlinked or made by hand. One query.

    Until a full sync from the district's current source has succeeded (`store.delta.relinking`:
    its first sync, or the first after it moved providers), every account: one linked to an id
    the pull no longer sends is then the same person under the new source's id, matched by
    student ID or email as any other (`domain.match` leaves alone those whose id is still sent).

    Args:
        conn: A connection.
        district_id: The district; accounts of other districts are never candidates.
        kind: `EntityKind.STUDENT` or `EntityKind.EDUCATOR`.
    """
    table = ROSTER_TABLES[kind]
    student_id = table.c.student_id if "student_id" in table.c else literal("").label("student_id")
    stmt = select(
        table.c.id,
        table.c.sourced_id,
        student_id,
        func.lower(table.c.email).label("email"),
        table.c.active,
        table.c.manually_rostered,
    ).where(table.c.district_id == district_id)
    if not store_delta.relinking(conn, district_id):
        stmt = stmt.where(or_(table.c.sourced_id.is_(None), table.c.manually_rostered.is_(True)))
    return [
        Account(
            id=row.id,
            sourced_id=row.sourced_id,
            student_id=(row.student_id or "").strip(),
            email=normal_email(row.email or ""),
            active=bool(row.active),
            manually_rostered=bool(row.manually_rostered),
        )
        for row in conn.execute(stmt)
    ]


def link_matches(
    conn: Connection, *, district_id: str, kind: EntityKind, matches: Sequence[Match]
) -> None:
    """Give matched accounts their ClassLink sourcedId; from now on ClassLink manages them.

    Runs before the plan is applied, in the same transaction, so the plan's update of the
    account (by id) finds it already linked. One executemany statement.
    """
    if not matches:
        return
    table = ROSTER_TABLES[kind]
    conn.execute(
        update(table).where(table.c.id == bindparam("b_id"), table.c.district_id == district_id),
        [
            {"b_id": m.account_id, "sourced_id": m.sourced_id, "manually_rostered": False}
            for m in matches
        ],
    )


# Run plans and decisions ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRecord:
    """What a run intended: its fingerprint, readable summary, and any hold or decision."""

    run_id: str
    district_id: str
    fingerprint: str
    summary: dict[str, Any]
    items: list[str] | None
    held_reason: str | None
    approves_run_id: str | None
    decided_by: str | None
    decided_at: datetime | None


def save_plan(
    conn: Connection,
    *,
    run_id: str,
    district_id: str,
    fingerprint: str,
    summary: dict[str, Any],
    items: list[str] | None,
    held_reason: str | None = None,
    approves_run_id: str | None = None,
    decided_by: str | None = None,
    decided_at: datetime | None = None,
) -> None:
    """Store a run's plan summary and fingerprint."""
    conn.execute(
        insert(run_plans).values(
            run_id=run_id,
            district_id=district_id,
            fingerprint=fingerprint,
            summary=summary,
            items=items,
            held_reason=held_reason,
            approves_run_id=approves_run_id,
            decided_by=decided_by,
            decided_at=decided_at,
        )
    )


def get_plan(conn: Connection, run_id: str) -> PlanRecord:
    """A run's stored plan.

    Raises:
        NotFoundError: The run has no stored plan (it failed, or it was skipped).
    """
    columns = [run_plans.c[name] for name in PlanRecord.__dataclass_fields__]
    row = conn.execute(select(*columns).where(run_plans.c.run_id == run_id)).first()
    if row is None:
        raise NotFoundError(
            f"run {run_id!r} has no stored plan; `rostersync runs <district>` lists the runs"
        )
    return PlanRecord(**row._mapping)


def decide_run(
    conn: Connection,
    *,
    run_id: str,
    pending: Iterable[str],
    status: str,
    actor: str,
    now: datetime,
) -> bool:
    """Move a run waiting for a decision to `status`, only if it is still waiting, and delete
    the changes listed for its review.

    Returns:
        False when the run was no longer in one of the `pending` states (someone decided first).
    """
    result = conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id, sync_runs.c.status.in_(list(pending)))
        .values(status=status)
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        update(run_plans)
        .where(run_plans.c.run_id == run_id)
        .values(decided_by=actor, decided_at=now)
    )
    # Its changes were listed for this decision only (`store.plan_changes`).
    conn.execute(delete(plan_changes).where(plan_changes.c.run_id == run_id))
    return True


def audit(
    conn: Connection,
    *,
    district_id: str,
    run_id: str | None,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    changes: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Write one audit row for a workflow decision (approve, discard, hold, go-live, match)."""
    conn.execute(
        insert(audit_log).values(
            district_id=district_id,
            run_id=run_id,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            changes=changes,
            at=now,
        )
    )


def audit_matches(
    conn: Connection,
    *,
    district_id: str,
    run_id: str,
    actor: str,
    matches: Sequence[Match],
    now: datetime,
) -> None:
    """One `match` audit row per matched account, naming the key that made it. One statement."""
    if not matches:
        return
    conn.execute(
        insert(audit_log),
        [
            {
                "district_id": district_id,
                "run_id": run_id,
                "actor": actor,
                "action": "match",
                "entity_type": m.kind.value,
                "entity_id": m.account_id,
                "changes": {"key": m.key.value},
                "at": now,
            }
            for m in matches
        ],
    )


# Issue lifecycle -----------------------------------------------------------------------------
IssueKey = tuple[str, str, str, str]


def _key(entity: str, sourced_id: str, field: str, code: str) -> IssueKey:
    return (entity, sourced_id, field, code)


def reconcile_issues(
    conn: Connection,
    *,
    district_id: str,
    run_id: str,
    issues: Sequence[ValidationIssue],
    now: datetime,
    scope: Collection[str] | None = None,
) -> dict[str, int]:
    """Bring the district's open issues in line with what this run found.

    An open issue the run no longer finds is closed by it; one it finds again stays open with
    `last_seen_run` moved on (no duplicate row); a new one is inserted open. Set-based: one read
    of the open issues, then chunked updates and one bulk insert.

    `scope` (a delta run): only open issues of these sourcedIds may close, since the run saw
    no other record and so cannot know the others were fixed.

    Returns:
        {"opened": n, "kept": n, "closed": n}.
    """
    t = validation_issues
    subject = [t.c[name] for name in subject_columns(None)]
    open_rows = conn.execute(
        select(t.c.id, t.c.entity, t.c.sourced_id, t.c.field, t.c.code, *subject).where(
            t.c.district_id == district_id, t.c.status == "open"
        )
    ).all()
    existing = {_key(r.entity, r.sourced_id, r.field, r.code): r.id for r in open_rows}
    named = {r.id: subject_values(r) for r in open_rows}
    fresh: dict[IssueKey, ValidationIssue] = {}
    for issue in issues:
        fresh.setdefault(_key(issue.entity, issue.sourced_id, issue.field, issue.code), issue)
    closing = [
        i for k, i in existing.items() if k not in fresh and (scope is None or k[1] in scope)
    ]
    keeping = [i for k, i in existing.items() if k in fresh]
    for chunk in _chunks(closing):
        conn.execute(
            update(t)
            .where(t.c.id.in_(chunk))
            .values(status="closed", closed_at=now, closed_by_run=run_id)
        )
    for chunk in _chunks(keeping):
        conn.execute(update(t).where(t.c.id.in_(chunk)).values(last_seen_run=run_id))
    # A kept issue is named as this run's roster names its record (a name fixed in the SIS, or
    # an issue stored before issues had names): one batched statement for the changed ones.
    renamed = []
    for key, issue_id in existing.items():
        found = fresh.get(key)
        if found is None or found.subject is None:
            continue
        columns = subject_columns(found.subject)
        if {f"subject_{k}": v or None for k, v in named[issue_id].items()} != columns:
            keys = issue_sort_keys(found.subject.name, found.subject.school)
            changed = {**columns, **keys}
            renamed.append({"issue_id": issue_id, **{f"new_{k}": v for k, v in changed.items()}})
    if renamed:
        named_columns = [*subject_columns(None), *issue_sort_keys(None, None)]
        conn.execute(
            update(t)
            .where(t.c.id == bindparam("issue_id"))
            .values({name: bindparam(f"new_{name}") for name in named_columns}),
            renamed,
        )
    new = [issue for key, issue in fresh.items() if key not in existing]
    if new:
        conn.execute(
            insert(t),
            [
                {
                    "id": str(uuid.uuid4()),
                    "run_id": run_id,
                    "district_id": district_id,
                    "entity": issue.entity,
                    "sourced_id": issue.sourced_id,
                    "field": issue.field,
                    "code": issue.code,
                    "severity": issue.severity.value,
                    "message": issue.message,
                    "fix": issue.fix,
                    "status": "open",
                    "created_at": now,
                    "last_seen_run": run_id,
                    **subject_columns(issue.subject),
                }
                for issue in new
            ],
        )
    return {"opened": len(new), "kept": len(keeping), "closed": len(closing)}


def list_open_issues(
    conn: Connection, district_id: str, *, entity: str | None = None
) -> list[IssueRecord]:
    """A district's open issues, errors first, then by kind and sourcedId."""
    t = validation_issues
    columns = [t.c[name] for name in IssueRecord.__dataclass_fields__]
    stmt = select(*columns).where(t.c.district_id == district_id, t.c.status == "open")
    if entity is not None:
        stmt = stmt.where(t.c.entity == entity)
    stmt = stmt.order_by((t.c.severity != "error"), t.c.entity, t.c.sourced_id, t.c.field, t.c.code)
    return [IssueRecord(**row._mapping) for row in conn.execute(stmt)]


# Settings ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSettings:
    """A district's safeguard thresholds and pause window (defaults when never set)."""

    safeguards: Safeguards
    pause: PauseWindow | None


def get_settings(conn: Connection, district_id: str) -> WorkflowSettings:
    """A district's workflow settings; the defaults when none are stored."""
    row = conn.execute(
        select(
            workflow_settings.c.safeguards,
            workflow_settings.c.pause_start,
            workflow_settings.c.pause_end,
        ).where(workflow_settings.c.district_id == district_id)
    ).first()
    if row is None:
        return WorkflowSettings(safeguards=Safeguards(), pause=None)
    pause = (
        PauseWindow(start=row.pause_start, end=row.pause_end)
        if row.pause_start and row.pause_end
        else None
    )
    return WorkflowSettings(safeguards=Safeguards.from_json(row.safeguards), pause=pause)


def save_settings(
    conn: Connection,
    *,
    district_id: str,
    safeguards: Safeguards,
    pause: PauseWindow | None,
    now: datetime,
) -> None:
    """Store a district's workflow settings, replacing what was there."""
    values = {
        "safeguards": safeguards.to_json(),
        "pause_start": pause.start if pause else None,
        "pause_end": pause.end if pause else None,
        "updated_at": now,
    }
    result = conn.execute(
        update(workflow_settings)
        .where(workflow_settings.c.district_id == district_id)
        .values(**values)
    )
    if result.rowcount == 0:
        conn.execute(insert(workflow_settings).values(district_id=district_id, **values))


# Go-live -------------------------------------------------------------------------------------
def set_status(
    conn: Connection, district_id: str, status: str, *, only_from: Sequence[str]
) -> bool:
    """Move a district to `status`; False (and no change) when it was in none of `only_from`."""
    result = conn.execute(
        update(districts)
        .where(districts.c.id == district_id, districts.c.status.in_(list(only_from)))
        .values(status=status)
    )
    return result.rowcount == 1


def due_for_go_live(conn: Connection, today: date) -> list[str]:
    """Ids of onboarding districts whose go-live date has come."""
    stmt = select(districts.c.id).where(
        and_(
            districts.c.status == "onboarding",
            districts.c.go_live_date.is_not(None),
            districts.c.go_live_date <= today,
        )
    )
    return [row.id for row in conn.execute(stmt)]


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
