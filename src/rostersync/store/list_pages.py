"""The keyset-paged lists of the admin pages and the API (`store.keyset`): districts by display
name, a district's runs and audit entries newest first, and its open issues by id.

Each list names its sort key (`*_KEY`, the kinds of its values for the cursor) and reads one page
under a scope the caller gives (a district, or the one district a data manager sees): a cursor
only says where in that list to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Connection

from rostersync.store.districts import DistrictRecord
from rostersync.store.jobs import ScheduledDistrict
from rostersync.store.jobs_tables import district_jobs, sync_slots
from rostersync.store.keyset import Seek, SeekPage, seek_page
from rostersync.store.runs import AuditEntry, IssueRecord, SyncRunRecord
from rostersync.store.tables import (
    audit_log,
    districts,
    integrations,
    sync_runs,
    validation_issues,
)

__all__ = [
    "AUDIT_KEY",
    "DISTRICTS_KEY",
    "ISSUES_KEY",
    "RUNS_KEY",
    "Listing",
    "PageSchedules",
    "audit_page",
    "district_page",
    "open_issue_page",
    "page_schedules",
    "run_page",
]

T = TypeVar("T")

# The kinds of each list's sort key values, in order (what a cursor of the list carries).
DISTRICTS_KEY = ("str", "str")  # display name, id
RUNS_KEY = ("datetime", "str")  # started, id
AUDIT_KEY = ("datetime", "int")  # at, id
ISSUES_KEY = ("str",)  # id


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One page of a list as records, and where the page stands (`SeekPage`)."""

    items: list[T]
    page: SeekPage


def _fields(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def district_page(
    conn: Connection, *, only: str | None, seek: Seek | None, size: int
) -> Listing[DistrictRecord]:
    """A page of the districts by display name (then id); `only`: that district alone."""
    t = districts
    where: list[ColumnElement[bool]] = [] if only is None else [t.c.id == only]
    stmt = select(*(t.c[n] for n in _fields(DistrictRecord)))
    page = seek_page(
        conn,
        stmt,
        where=where,
        keys=[t.c.display_name, t.c.id],
        descending=False,
        seek=seek,
        size=size,
    )
    return Listing([DistrictRecord(**r._mapping) for r in page.rows], page)


def run_page(
    conn: Connection, district_id: str, *, seek: Seek | None, size: int
) -> Listing[SyncRunRecord]:
    """A page of a district's runs, newest first (the `district_id, started_at` index)."""
    t = sync_runs
    stmt = select(*(t.c[n] for n in _fields(SyncRunRecord)))
    page = seek_page(
        conn,
        stmt,
        where=[t.c.district_id == district_id],
        keys=[t.c.started_at, t.c.id],
        descending=True,
        seek=seek,
        size=size,
    )
    return Listing([SyncRunRecord(**r._mapping) for r in page.rows], page)


def audit_page(
    conn: Connection, district_id: str, *, seek: Seek | None, size: int, run_id: str = ""
) -> Listing[AuditEntry]:
    """A page of a district's audit entries, newest first (the `district_id, at` index), or of
    one run's entries (`run_id`: the `run_id, at, id` index)."""
    t = audit_log
    stmt = select(*(t.c[n] for n in _fields(AuditEntry)))
    where = [t.c.district_id == district_id]
    if run_id:
        where.append(t.c.run_id == run_id)
    page = seek_page(
        conn,
        stmt,
        where=where,
        keys=[t.c.at, t.c.id],
        descending=True,
        seek=seek,
        size=size,
    )
    return Listing([AuditEntry(**r._mapping) for r in page.rows], page)


def open_issue_page(
    conn: Connection,
    district_id: str,
    *,
    code: str = "",
    sourced_ids: Sequence[str] = (),
    seek: Seek | None,
    size: int,
) -> Listing[IssueRecord]:
    """A page of a district's open issues by id, of one problem (`code`) or record if asked."""
    t = validation_issues
    where: list[ColumnElement[bool]] = [t.c.district_id == district_id, t.c.status == "open"]
    if code:
        where.append(t.c.code == code)
    if sourced_ids:
        where.append(t.c.sourced_id.in_(list(sourced_ids)))
    stmt = select(*(t.c[n] for n in _fields(IssueRecord)))
    page = seek_page(conn, stmt, where=where, keys=[t.c.id], descending=False, seek=seek, size=size)
    return Listing([IssueRecord(**r._mapping) for r in page.rows], page)


def run_issue_page(
    conn: Connection, run_id: str, *, closed: bool, seek: Seek | None, size: int
) -> Listing[IssueRecord]:
    """A page, by id, of the issues a run opened (found first by it), or, `closed`, of those it
    closed (each through its own index)."""
    t = validation_issues
    where = [t.c.closed_by_run == run_id] if closed else [t.c.run_id == run_id]
    stmt = select(*(t.c[n] for n in _fields(IssueRecord)))
    page = seek_page(conn, stmt, where=where, keys=[t.c.id], descending=False, seek=seek, size=size)
    return Listing([IssueRecord(**r._mapping) for r in page.rows], page)


def run_starter(conn: Connection, run_id: str) -> str | None:
    """The actor of a run's "start" audit entry (the `run_id, at, id` index), or None."""
    t = audit_log
    found = conn.execute(
        select(t.c.actor)
        .where(t.c.run_id == run_id, t.c.action == "start")
        .order_by(t.c.at, t.c.id)
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def run_issue_counts(conn: Connection, run_id: str) -> tuple[int, int]:
    """How many issues a run opened, and how many it closed (two indexed counts)."""
    t = validation_issues
    opened = conn.execute(select(func.count()).where(t.c.run_id == run_id)).scalar_one()
    closed = conn.execute(select(func.count()).where(t.c.closed_by_run == run_id)).scalar_one()
    return int(opened), int(closed)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageSchedules:
    """What the schedules of a page of districts are made from (`scheduling.schedule_info`),
    read for those districts alone: the list's cost does not grow with the number of districts.

    Attributes:
        rows: Each district's status and schedule answers (those with an integration).
        last_slots: Each district's latest scheduled slot.
        quarantined: The quarantined districts among them: id → why.
        unscheduled: The districts among them whose source kind is never scheduled.
    """

    rows: list[ScheduledDistrict]
    last_slots: dict[str, datetime]
    quarantined: dict[str, str]
    unscheduled: set[str]


def page_schedules(
    conn: Connection, ids: Sequence[str], *, unscheduled_kinds: Sequence[str]
) -> PageSchedules:
    """The schedule inputs of the districts `ids` (four queries, each over the page's ids)."""
    if not ids:
        return PageSchedules(rows=[], last_slots={}, quarantined={}, unscheduled=set())
    d, i, wanted = districts, integrations, list(ids)
    found = conn.execute(
        select(
            d.c.id,
            d.c.slug,
            d.c.status,
            d.c.time_zone,
            d.c.created_at,
            d.c.go_live_date,
            i.c.sync_frequency,
            i.c.sync_days,
            i.c.sync_interval_days,
            i.c.sync_time,
            i.c.source_kind,
        )
        .join(i, i.c.district_id == d.c.id)
        .where(d.c.id.in_(wanted))
    ).all()
    rows = [
        ScheduledDistrict(
            **{k: v for k, v in r._mapping.items() if k not in ("source_kind", "sync_days")},
            sync_days=tuple(r.sync_days or ()),
        )
        for r in found
    ]
    slots = conn.execute(
        select(sync_slots.c.district_id, func.max(sync_slots.c.due_slot).label("last"))
        .where(sync_slots.c.trigger == "scheduled", sync_slots.c.district_id.in_(wanted))
        .group_by(sync_slots.c.district_id)
    )
    quarantined = conn.execute(
        select(district_jobs.c.district_id, district_jobs.c.quarantine_reason).where(
            district_jobs.c.quarantined_at.is_not(None), district_jobs.c.district_id.in_(wanted)
        )
    )
    return PageSchedules(
        rows=rows,
        last_slots={r.district_id: _utc(r.last) for r in slots},
        quarantined={r.district_id: r.quarantine_reason or "" for r in quarantined},
        unscheduled={r.id for r in found if r.source_kind in unscheduled_kinds},
    )


def _utc(value: datetime | str) -> datetime:
    """A MAX() of a moment read back as UTC (SQLite returns it as text, without its type)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
