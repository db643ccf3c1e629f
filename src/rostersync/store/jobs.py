"""Repositories of the jobs feature: scheduled sync slots, their claims, and quarantine.

A slot is one due sync of one district at one scheduled instant. Its life: `queued` when a tick
inserts it (the primary key makes that exactly-once, however many schedulers tick), `running`
when a worker claims it (an UPDATE only one worker can win; the partial unique index refuses a
second running slot of the same district), `finished` with the run's outcome. A worker renews
its lease while the sync runs; a slot whose lease ran out was left by a dead worker and is put
back to `queued` by the reaper, its orphaned run marked `abandoned` (as `store.locks` does when
the next sync takes a dead run's district lock over).

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rostersync.store import locks as store_locks
from rostersync.store import workflow as store_workflow
from rostersync.store.jobs_tables import district_jobs, sync_slots
from rostersync.store.tables import districts, integrations, sync_runs


class Claim(StrEnum):
    """What a worker's attempt to claim a slot came to."""

    CLAIMED = "claimed"  # this worker runs it now
    DUPLICATE = "duplicate"  # another worker has it, or it is finished: drop the message
    BUSY = "busy"  # another slot of the same district is running: try again later


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotRecord:
    """One scheduled sync slot and where it stands."""

    district_id: str
    due_slot: datetime
    trigger: str
    status: str
    run_id: str | None
    outcome: str | None
    attempts: int
    worker: str | None
    enqueued_at: datetime
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    finished_at: datetime | None


_SLOT_COLUMNS = [sync_slots.c[name] for name in SlotRecord.__dataclass_fields__]


def enqueue_slot(
    conn: Connection, *, district_id: str, due_slot: datetime, trigger: str, now: datetime
) -> bool:
    """Record a due slot as queued, once.

    Runs in a SAVEPOINT so a duplicate leaves the caller's transaction usable.

    Returns:
        False when the slot was already recorded (another tick got there first).
    """
    try:
        with conn.begin_nested():
            conn.execute(
                insert(sync_slots).values(
                    district_id=district_id,
                    due_slot=due_slot,
                    trigger=trigger,
                    status="queued",
                    attempts=0,
                    enqueued_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def claim_slot(
    conn: Connection,
    *,
    district_id: str,
    due_slot: datetime,
    worker: str,
    now: datetime,
    lease: timedelta,
) -> Claim:
    """Claim a queued slot for `worker`; exactly one of any number of workers wins.

    Args:
        conn: A connection; commit right after, so the claim is visible to other workers.
        district_id: The slot's district.
        due_slot: The slot's scheduled instant.
        worker: Who claims it (host:pid:thread), so a lost lease can be told from a held one.
        now: The current time.
        lease: How long the claim holds without renewal.
    """
    try:
        with conn.begin_nested():
            result = conn.execute(
                update(sync_slots)
                .where(
                    sync_slots.c.district_id == district_id,
                    sync_slots.c.due_slot == due_slot,
                    sync_slots.c.status == "queued",
                )
                .values(
                    status="running",
                    worker=worker,
                    claimed_at=now,
                    lease_expires_at=now + lease,
                    attempts=sync_slots.c.attempts + 1,
                )
            )
    except IntegrityError:
        # The partial unique index: another slot of this district is running.
        return Claim.BUSY
    return Claim.CLAIMED if result.rowcount == 1 else Claim.DUPLICATE


def renew_lease(
    conn: Connection,
    *,
    district_id: str,
    due_slot: datetime,
    worker: str,
    now: datetime,
    lease: timedelta,
) -> bool:
    """Extend a running claim; False when `worker` no longer holds it."""
    result = conn.execute(
        update(sync_slots)
        .where(
            sync_slots.c.district_id == district_id,
            sync_slots.c.due_slot == due_slot,
            sync_slots.c.status == "running",
            sync_slots.c.worker == worker,
        )
        .values(lease_expires_at=now + lease)
    )
    return result.rowcount == 1


def finish_slot(
    conn: Connection,
    *,
    district_id: str,
    due_slot: datetime,
    worker: str,
    run_id: str | None,
    outcome: str,
    now: datetime,
) -> bool:
    """Mark a claimed slot finished with its run's outcome; False when the claim was lost."""
    result = conn.execute(
        update(sync_slots)
        .where(
            sync_slots.c.district_id == district_id,
            sync_slots.c.due_slot == due_slot,
            sync_slots.c.status == "running",
            sync_slots.c.worker == worker,
        )
        .values(
            status="finished",
            run_id=run_id,
            outcome=outcome,
            finished_at=now,
            lease_expires_at=None,
        )
    )
    return result.rowcount == 1


def release_slot(
    conn: Connection,
    *,
    district_id: str,
    due_slot: datetime,
    worker: str,
    run_id: str | None,
    now: datetime,
    outcome: str | None = None,
    counted: bool = True,
) -> bool:
    """Put a claimed slot back to queued, for a retry; False when the claim was lost.

    `outcome` says why it waits (`waiting_for_lock`, …) until an attempt finishes it; with
    `counted` False the claim is not counted as an attempt (it did not try to sync).
    """
    result = conn.execute(
        update(sync_slots)
        .where(
            sync_slots.c.district_id == district_id,
            sync_slots.c.due_slot == due_slot,
            sync_slots.c.status == "running",
            sync_slots.c.worker == worker,
        )
        .values(
            status="queued",
            run_id=run_id,
            outcome=outcome,
            attempts=sync_slots.c.attempts - (0 if counted else 1),
            worker=None,
            lease_expires_at=None,
            enqueued_at=now,
        )
    )
    return result.rowcount == 1


def get_slot(conn: Connection, district_id: str, due_slot: datetime) -> SlotRecord | None:
    """One slot, or None."""
    row = conn.execute(
        select(*_SLOT_COLUMNS).where(
            sync_slots.c.district_id == district_id, sync_slots.c.due_slot == due_slot
        )
    ).first()
    return SlotRecord(**row._mapping) if row is not None else None


def last_slots(conn: Connection) -> dict[str, datetime]:
    """Each district's latest scheduled slot, in one query."""
    rows = conn.execute(
        select(sync_slots.c.district_id, func.max(sync_slots.c.due_slot).label("last"))
        .where(sync_slots.c.trigger == "scheduled")
        .group_by(sync_slots.c.district_id)
    )
    # func.max loses the column type on SQLite; read it back through the UTC type by hand.
    return {row.district_id: _utc(row.last) for row in rows}


def reap_expired(conn: Connection, *, now: datetime) -> list[SlotRecord]:
    """Put slots whose worker died (lease expired) back to queued; mark their runs abandoned.

    The orphaned run is the district's scheduled run still `running` that started after the
    dead worker claimed the slot: the claim guarantees no other scheduled run of the district
    could have started since.

    Returns:
        The slots put back, as they were before (with the dead worker), for re-enqueueing.
    """
    expired = [
        SlotRecord(**row._mapping)
        for row in conn.execute(
            select(*_SLOT_COLUMNS).where(
                sync_slots.c.status == "running", sync_slots.c.lease_expires_at < now
            )
        )
    ]
    reaped: list[SlotRecord] = []
    for slot in expired:
        # Conditional on the same worker and lease, so a renewal that just landed wins.
        result = conn.execute(
            update(sync_slots)
            .where(
                sync_slots.c.district_id == slot.district_id,
                sync_slots.c.due_slot == slot.due_slot,
                sync_slots.c.status == "running",
                sync_slots.c.worker == slot.worker,
                sync_slots.c.lease_expires_at < now,
            )
            .values(status="queued", worker=None, lease_expires_at=None, enqueued_at=now)
        )
        if result.rowcount != 1:
            continue
        orphans = [
            row.id
            for row in conn.execute(
                select(sync_runs.c.id).where(
                    sync_runs.c.district_id == slot.district_id,
                    sync_runs.c.status == "running",
                    sync_runs.c.trigger == slot.trigger,
                    sync_runs.c.started_at >= slot.claimed_at,
                )
            )
        ]
        for run_id in orphans:
            # Named with the phase it reached, as when the next sync takes its lock over.
            store_locks.abandon_run(conn, run_id, now=now)
            # Its lock dies with it anyway (store.locks); this frees it before the next sync.
            store_workflow.release_lock(conn, district_id=slot.district_id, run_id=run_id)
        reaped.append(slot)
    return reaped


def lost_queued(conn: Connection, *, older_than: datetime, now: datetime) -> list[SlotRecord]:
    """Queued slots waiting since before `older_than`: their message may be lost; re-send them.

    Their `enqueued_at` moves to `now`, so each is re-sent once per period, not on every tick.
    """
    rows = [
        SlotRecord(**row._mapping)
        for row in conn.execute(
            select(*_SLOT_COLUMNS).where(
                sync_slots.c.status == "queued", sync_slots.c.enqueued_at < older_than
            )
        )
    ]
    for slot in rows:
        conn.execute(
            update(sync_slots)
            .where(
                sync_slots.c.district_id == slot.district_id,
                sync_slots.c.due_slot == slot.due_slot,
            )
            .values(enqueued_at=now)
        )
    return rows


def recent_outcomes(conn: Connection, district_id: str, limit: int) -> list[str]:
    """The run statuses of a district's latest finished scheduled slots, newest first.

    Read from `sync_runs` through each slot's final run, so retries of one slot count once.
    """
    rows = conn.execute(
        select(sync_runs.c.status)
        .join(sync_runs, sync_runs.c.id == sync_slots.c.run_id)
        .where(
            sync_slots.c.district_id == district_id,
            sync_slots.c.status == "finished",
            sync_slots.c.trigger == "scheduled",
        )
        .order_by(sync_slots.c.due_slot.desc())
        .limit(limit)
    )
    return [row.status for row in rows]


# Quarantine ----------------------------------------------------------------------------------
def quarantined(conn: Connection) -> dict[str, str]:
    """The quarantined districts: id → why."""
    rows = conn.execute(
        select(district_jobs.c.district_id, district_jobs.c.quarantine_reason).where(
            district_jobs.c.quarantined_at.is_not(None)
        )
    )
    return {row.district_id: row.quarantine_reason or "" for row in rows}


def set_quarantine(
    conn: Connection, *, district_id: str, reason: str | None, now: datetime
) -> bool:
    """Quarantine a district (reason given) or lift it (None).

    Returns:
        True when that changed anything (so the people concerned are told once).
    """
    values = {
        "quarantined_at": now if reason is not None else None,
        "quarantine_reason": reason,
        "updated_at": now,
    }
    current = conn.execute(
        select(district_jobs.c.quarantined_at).where(district_jobs.c.district_id == district_id)
    ).first()
    if current is None:
        if reason is None:
            return False
        conn.execute(insert(district_jobs).values(district_id=district_id, **values))
        return True
    if (current.quarantined_at is not None) == (reason is not None):
        return False
    conn.execute(
        update(district_jobs).where(district_jobs.c.district_id == district_id).values(**values)
    )
    return True


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite returns MAX() of a DATETIME as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledDistrict:
    """What the scheduler needs of a district: its status and its schedule answers."""

    id: str
    slug: str
    status: str
    time_zone: str
    created_at: datetime
    go_live_date: date | None
    sync_frequency: str
    sync_days: tuple[str, ...]
    sync_interval_days: int | None
    sync_time: str


def scheduled_districts(conn: Connection, statuses: Sequence[str]) -> list[ScheduledDistrict]:
    """Districts in one of `statuses` with their schedule answers, in one query."""
    stmt = (
        select(
            districts.c.id,
            districts.c.slug,
            districts.c.status,
            districts.c.time_zone,
            districts.c.created_at,
            districts.c.go_live_date,
            integrations.c.sync_frequency,
            integrations.c.sync_days,
            integrations.c.sync_interval_days,
            integrations.c.sync_time,
        )
        .join(integrations, integrations.c.district_id == districts.c.id)
        .where(districts.c.status.in_(list(statuses)))
        .order_by(districts.c.slug)
    )
    return [
        ScheduledDistrict(**{**row._mapping, "sync_days": tuple(row.sync_days or ())})
        for row in conn.execute(stmt)
    ]
