"""A district's schedule as people read it, and which districts are scheduled at all.

The service shows schedules (`schedule_info`) and the job queue's tick enqueues them
(`jobs.scheduler`); both read the rules here, so the service never imports the job queue.
Which source kinds are never scheduled is each provider's own `scheduled` (`rostersync.providers`).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from rostersync.domain.schedule import Frequency, Schedule, next_run_after, schedule_from_answers
from rostersync.errors import ConfigError
from rostersync.providers import PROVIDERS
from rostersync.store import jobs as store_jobs
from rostersync.store.tables import integrations

SCHEDULED_STATUSES = ("onboarding", "live")
# The built-in source kinds whose providers are never scheduled (`Provider.scheduled`): a push
# district syncs when a bundle arrives (rostersync.web.push), a pending one once onboarding gives
# it credentials. `unscheduled_districts` asks the registry itself at each call.
UNSCHEDULED_SOURCE_KINDS = PROVIDERS.unscheduled_kinds()


def schedule_of(row: store_jobs.ScheduledDistrict) -> Schedule:
    """A district's schedule from its answers; every-N-days cycles count from go-live."""
    return schedule_from_answers(
        frequency=row.sync_frequency,
        days=row.sync_days,
        interval_days=row.sync_interval_days,
        time_of_day=row.sync_time,
        time_zone=row.time_zone,
        anchor=row.go_live_date or row.created_at.date(),
    )


def quarantine_schedule(schedule: Schedule) -> Schedule:
    """A quarantined district's schedule: once a day at its usual time, whatever it asked for."""
    return Schedule(frequency=Frequency.DAILY, at=schedule.at, time_zone=schedule.time_zone)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleInfo:
    """A district's schedule as people read it: in words, and the next run in its own zone."""

    district_id: str
    slug: str
    status: str
    schedule: Schedule
    description: str
    quarantined: str | None
    next_run_utc: datetime | None
    next_run_local: datetime | None


def schedule_info(
    row: store_jobs.ScheduledDistrict,
    *,
    last_slot: datetime | None,
    quarantine_reason: str | None,
) -> ScheduleInfo:
    """The schedule of one district and when it runs next (None while paused)."""
    schedule = schedule_of(row)
    effective = quarantine_schedule(schedule) if quarantine_reason is not None else schedule
    next_utc = None
    if row.status in SCHEDULED_STATUSES:
        # A slot already due but not yet enqueued runs at the next tick: that is the next run.
        next_utc = next_run_after(effective, last_slot or row.created_at)
    description = effective.describe()
    if quarantine_reason is not None:
        description += f" (quarantined; normally {schedule.describe()})"
    return ScheduleInfo(
        district_id=row.id,
        slug=row.slug,
        status=row.status,
        schedule=schedule,
        description=description,
        quarantined=quarantine_reason,
        next_run_utc=next_utc,
        next_run_local=next_utc.astimezone(schedule.zone) if next_utc else None,
    )


def district_schedule(conn: Connection, district_id: str, status: str) -> ScheduleInfo:
    """One district's schedule and when it runs next.

    Raises:
        ConfigError: Its answers describe no usable schedule.
    """
    row = next(r for r in store_jobs.scheduled_districts(conn, (status,)) if r.id == district_id)
    return schedule_info(
        row,
        last_slot=store_jobs.last_slots(conn).get(district_id),
        quarantine_reason=store_jobs.quarantined(conn).get(district_id),
    )


def district_schedules(conn: Connection, statuses: tuple[str, ...]) -> dict[str, ScheduleInfo]:
    """Every district's schedule with one of `statuses`, by district id, read in one pass
    (four queries whatever the number of districts). A district whose answers describe no
    usable schedule, or that is never scheduled (push, pending), is left out."""
    return schedules_from(
        store_jobs.scheduled_districts(conn, statuses),
        last_slots=store_jobs.last_slots(conn),
        quarantined=store_jobs.quarantined(conn),
        # Push and pending districts are never scheduled: they have no next sync to show.
        unscheduled=unscheduled_districts(conn),
    )


def schedules_from(
    rows: Iterable[store_jobs.ScheduledDistrict],
    *,
    last_slots: Mapping[str, datetime],
    quarantined: Mapping[str, str],
    unscheduled: Container[str],
) -> dict[str, ScheduleInfo]:
    """The schedules of these districts, from what was read about them, by district id; a
    district that is never scheduled, or whose answers describe no usable schedule, is left out."""
    infos: dict[str, ScheduleInfo] = {}
    for row in rows:
        if row.id in unscheduled:
            continue
        try:
            infos[row.id] = schedule_info(
                row, last_slot=last_slots.get(row.id), quarantine_reason=quarantined.get(row.id)
            )
        except (ConfigError, StopIteration):
            continue
    return infos


def unscheduled_districts(conn: Connection) -> set[str]:
    """Ids of the districts whose provider is never scheduled (`Provider.scheduled`)."""
    rows = conn.execute(
        select(integrations.c.district_id).where(
            integrations.c.source_kind.in_(PROVIDERS.unscheduled_kinds())
        )
    )
    return {district_id for (district_id,) in rows}


__all__ = [
    "SCHEDULED_STATUSES",
    "UNSCHEDULED_SOURCE_KINDS",
    "ScheduleInfo",
    "district_schedule",
    "district_schedules",
    "quarantine_schedule",
    "schedule_info",
    "schedule_of",
    "schedules_from",
    "unscheduled_districts",
]
