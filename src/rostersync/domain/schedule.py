"""Sync schedules: when a district's scheduled syncs fall, in its own time zone.

A schedule is a set of local dates (daily, weekdays, chosen weekdays, or every N days from an
anchor date) and one wall-clock time in an IANA time zone. Every date on which it runs has
exactly one run instant, so daylight-saving changes neither skip nor double a run:

- a wall-clock time that does not exist (the spring-forward gap) runs at the first valid
  instant after it, the end of the gap (02:30 → 03:00 in America/Chicago);
- a wall-clock time that happens twice (the fall-back hour) runs once, at its first occurrence.

Pure: no clock is read here; callers pass the instants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rostersync.errors import ConfigError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The service agreement: a roster is never more than 30 days stale.
MAX_INTERVAL_DAYS = 29
# Every schedule runs at least once in this many local days, so searches are bounded.
_SEARCH_DAYS = MAX_INTERVAL_DAYS + 3
# Every-N-days cycles count from here unless the district gives a date (a Monday, arbitrarily).
DEFAULT_ANCHOR = date(2000, 1, 3)


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKDAYS = "weekdays"
    WEEKLY = "weekly"
    EVERY_N_DAYS = "every_n_days"


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """When a district's scheduled syncs run.

    Attributes:
        frequency: Daily, weekdays (Monday to Friday), weekly on `days`, or every `interval_days`.
        at: The wall-clock time of day in `time_zone`.
        time_zone: An IANA zone name, e.g. "America/Chicago".
        days: For weekly schedules: weekday numbers, Monday 0 to Sunday 6.
        interval_days: For every-N-days schedules: N, 1 to 29.
        anchor: For every-N-days schedules: a local date on which it runs (the cycle's start).
    """

    frequency: Frequency
    at: time
    time_zone: str
    days: frozenset[int] = frozenset()
    interval_days: int | None = None
    anchor: date = DEFAULT_ANCHOR

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"time zone {self.time_zone!r} is not an IANA zone name; use one such as "
                "'America/Chicago'"
            ) from None
        if self.at.tzinfo is not None:
            raise ConfigError("the sync time is a wall-clock time: give it without a zone")
        if self.frequency is Frequency.WEEKLY:
            if not self.days:
                raise ConfigError("a weekly sync needs at least one day, e.g. --sync-day mon")
            if not self.days <= set(range(7)):
                raise ConfigError("weekly sync days must be weekday numbers 0 (Mon) to 6 (Sun)")
        if self.frequency is Frequency.EVERY_N_DAYS and not (
            self.interval_days is not None and 1 <= self.interval_days <= MAX_INTERVAL_DAYS
        ):
            raise ConfigError(
                f"syncs every {self.interval_days} days would leave the roster stale: syncs must "
                f"run less than 30 days apart, so choose an interval of 1 to {MAX_INTERVAL_DAYS} "
                "days"
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def runs_on(self, day: date) -> bool:
        """True when the schedule has a run on this local date."""
        if self.frequency is Frequency.DAILY:
            return True
        if self.frequency is Frequency.WEEKDAYS:
            return day.weekday() < 5
        if self.frequency is Frequency.WEEKLY:
            return day.weekday() in self.days
        assert self.interval_days is not None  # checked in __post_init__
        return (day - self.anchor).days % self.interval_days == 0

    def describe(self) -> str:
        """The schedule in words, e.g. "weekdays at 06:00 (America/Chicago)"."""
        when = {
            Frequency.DAILY: "every day",
            Frequency.WEEKDAYS: "weekdays",
            Frequency.WEEKLY: "every "
            + ", ".join(DAY_NAMES[d].capitalize() for d in sorted(self.days)),
            Frequency.EVERY_N_DAYS: f"every {self.interval_days} days",
        }[self.frequency]
        return f"{when} at {self.at:%H:%M} ({self.time_zone})"


def schedule_from_answers(
    *,
    frequency: str,
    days: Iterable[str],
    interval_days: int | None,
    time_of_day: str,
    time_zone: str,
    anchor: date | None = None,
) -> Schedule:
    """The schedule a district's questionnaire answers describe.

    Args:
        frequency: "daily", "weekdays", "weekly" or "every_n_days".
        days: For weekly: day names ("mon", "Tuesday", …).
        interval_days: For every_n_days: N.
        time_of_day: "HH:MM" in the district's zone.
        time_zone: The district's IANA time zone.
        anchor: For every_n_days: a date it runs on (e.g. go-live); a fixed Monday otherwise.

    Raises:
        ConfigError: The answers describe no schedule, or one 30 or more days apart.
    """
    try:
        kind = Frequency(frequency)
    except ValueError:
        raise ConfigError(
            f"sync frequency {frequency!r} is not one of {', '.join(f.value for f in Frequency)}"
        ) from None
    hh, _, mm = time_of_day.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ConfigError(f"sync time {time_of_day!r} must be HH:MM, e.g. 05:30")
    numbers: set[int] = set()
    for name in days:
        short = name.strip().lower()[:3]
        if short not in DAY_NAMES:
            raise ConfigError(f"{name!r} is not a day of the week; use mon, tue, … sun")
        numbers.add(DAY_NAMES.index(short))
    return Schedule(
        frequency=kind,
        at=time(int(hh), int(mm)),
        time_zone=time_zone,
        days=frozenset(numbers),
        interval_days=interval_days,
        anchor=anchor or DEFAULT_ANCHOR,
    )


def run_instant(schedule: Schedule, day: date) -> datetime:
    """The UTC instant of the run on a local date (whether or not the schedule runs that day).

    A nonexistent wall-clock time runs at the end of the gap; an ambiguous one at its first
    occurrence.
    """
    zone = schedule.zone
    wall = datetime.combine(day, schedule.at)
    # fold=0 is the first occurrence of an ambiguous time (the earlier offset).
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap the two folds straddle the transition; the transition instant is the first
    # moment whose wall clock is at or past `wall`. Transitions fall on whole minutes.
    low = min(first, wall.replace(tzinfo=zone, fold=1).astimezone(UTC))
    low = low.replace(second=0, microsecond=0)
    while low.astimezone(zone).replace(tzinfo=None) < wall:
        low += timedelta(minutes=1)
    return low


def next_run_after(schedule: Schedule, instant_utc: datetime) -> datetime:
    """The first scheduled run strictly after `instant_utc`, in UTC.

    Raises:
        ValueError: `instant_utc` is naive.
    """
    _aware(instant_utc)
    local_day = instant_utc.astimezone(schedule.zone).date()
    # Start a day early: a run's local date can differ from the local date of its UTC instant.
    for offset in range(-1, _SEARCH_DAYS + 1):
        day = local_day + timedelta(days=offset)
        if schedule.runs_on(day):
            candidate = run_instant(schedule, day)
            if candidate > instant_utc:
                return candidate
    raise AssertionError("every valid schedule runs within 30 days")  # pragma: no cover


def last_run_at_or_before(schedule: Schedule, instant_utc: datetime) -> datetime:
    """The latest scheduled run at or before `instant_utc`, in UTC (the slot now due)."""
    _aware(instant_utc)
    local_day = instant_utc.astimezone(schedule.zone).date()
    for offset in range(1, -_SEARCH_DAYS - 1, -1):
        day = local_day + timedelta(days=offset)
        if schedule.runs_on(day):
            candidate = run_instant(schedule, day)
            if candidate <= instant_utc:
                return candidate
    raise AssertionError("every valid schedule runs within 30 days")  # pragma: no cover


def due(schedule: Schedule, last_scheduled_run_utc: datetime, now_utc: datetime) -> bool:
    """True when a run falls after the last scheduled one and at or before now.

    Args:
        schedule: The district's schedule.
        last_scheduled_run_utc: The slot of its last scheduled run (or when it was onboarded).
        now_utc: The current instant.
    """
    return next_run_after(schedule, last_scheduled_run_utc) <= now_utc


def _aware(instant: datetime) -> None:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware UTC datetimes")
