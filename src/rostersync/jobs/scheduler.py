"""The scheduler tick: enqueue every sync that is due, exactly once, and recover lost work.

Run it every minute (the worker's periodic task does) or by hand (`rostersync tick`). Each tick:

1. puts back slots whose worker died (lease expired; their runs marked `abandoned`) and re-sends
   queued slots whose message may have been lost;
2. for each onboarding or live district (paused ones are skipped; a district's pause window is
   honoured by the sync itself), finds the latest scheduled instant at or before `now` and, if it
   is newer than the district's last slot, records it: the slot's primary key makes that
   exactly-once however many ticks run at the same time;
3. sends a queue message for each slot recorded or recovered, after the records are committed.

A quarantined district is scheduled daily at its usual time until a sync succeeds. The rules of a
schedule (which districts, when next, in words) are in `rostersync.scheduling`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from rostersync.domain.schedule import due, last_run_at_or_before
from rostersync.errors import ConfigError
from rostersync.scheduling import (
    SCHEDULED_STATUSES,
    UNSCHEDULED_SOURCE_KINDS,
    quarantine_schedule,
    schedule_of,
    unscheduled_districts,
)
from rostersync.store import jobs as store_jobs

if TYPE_CHECKING:
    from rostersync.services import Services

log = structlog.get_logger(__name__)

# A queued slot older than this may have lost its message (a worker died holding it): resend.
LOST_AFTER = timedelta(minutes=30)

Enqueue = Callable[[str, datetime, str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Enqueued:
    """A slot the tick sent to the queue, and why."""

    district_id: str
    slug: str
    due_slot: datetime
    trigger: str
    reason: str  # "due", "reaped" (its worker died) or "resent" (its message may be lost)


def tick(
    service: Services, now: datetime | None = None, *, enqueue: Enqueue | None = None
) -> list[Enqueued]:
    """Enqueue the syncs that are due at `now`, and recover slots left by dead workers.

    Args:
        service: The service API (its engine holds the districts and slots).
        now: The schedule's clock (defaults to the current time). Leases are always judged by
            the real clock: they are about which processes are alive now.
        enqueue: Sends (district_id, due_slot, trigger) to the queue; a `JobQueue` built from
            the service's settings when None.

    Returns:
        The slots sent to the queue.
    """
    wall = datetime.now(UTC)
    now = now or wall
    if enqueue is None:
        from rostersync.jobs.queue import JobQueue

        enqueue = JobQueue(service.settings, service=service, periodic=False).enqueue_sync
    sent: list[Enqueued] = []
    with service.engine.begin() as conn:
        rows = store_jobs.scheduled_districts(conn, (*SCHEDULED_STATUSES, "paused"))
        slugs = {row.id: row.slug for row in rows}
        for slot in store_jobs.reap_expired(conn, now=wall):
            sent.append(_enqueued(slot, slugs, "reaped"))
        for slot in store_jobs.lost_queued(conn, older_than=wall - LOST_AFTER, now=wall):
            sent.append(_enqueued(slot, slugs, "resent"))
        last = store_jobs.last_slots(conn)
        quarantined = store_jobs.quarantined(conn)
        unscheduled = unscheduled_districts(conn)
        for row in rows:
            if row.status not in SCHEDULED_STATUSES or row.id in unscheduled:
                continue
            try:
                schedule = schedule_of(row)
            except ConfigError as exc:
                # Fixed on the district, not here; the other districts carry on.
                log.warning("tick.bad_schedule", district_id=row.id, error=str(exc))
                continue
            if row.id in quarantined:
                schedule = quarantine_schedule(schedule)
            since = last.get(row.id, row.created_at)
            if not due(schedule, since, now):
                continue
            slot_at = last_run_at_or_before(schedule, now)
            if store_jobs.enqueue_slot(
                conn, district_id=row.id, due_slot=slot_at, trigger="scheduled", now=wall
            ):
                sent.append(
                    Enqueued(
                        district_id=row.id,
                        slug=row.slug,
                        due_slot=slot_at,
                        trigger="scheduled",
                        reason="due",
                    )
                )
    # After the commit: a worker must find the slot row when the message arrives. A send that
    # fails leaves the slot queued, and a later tick resends it.
    for item in sent:
        enqueue(item.district_id, item.due_slot, item.trigger)
    log.info(
        "tick.finished",
        due=sum(1 for s in sent if s.reason == "due"),
        reaped=sum(1 for s in sent if s.reason == "reaped"),
        resent=sum(1 for s in sent if s.reason == "resent"),
    )
    return sent


def _enqueued(slot: store_jobs.SlotRecord, slugs: dict[str, str], reason: str) -> Enqueued:
    return Enqueued(
        district_id=slot.district_id,
        slug=slugs.get(slot.district_id, slot.district_id),
        due_slot=slot.due_slot,
        trigger=slot.trigger,
        reason=reason,
    )


__all__ = [
    "SCHEDULED_STATUSES",
    "UNSCHEDULED_SOURCE_KINDS",
    "Enqueued",
    "tick",
]
