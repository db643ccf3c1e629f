"""Schedules: the right instants in the district's zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from rostersync.domain.schedule import (
    Frequency,
    Schedule,
    due,
    last_run_at_or_before,
    next_run_after,
    run_instant,
    schedule_from_answers,
)
from rostersync.errors import ConfigError

CHICAGO = "America/Chicago"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fire_times(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Drive `due` with a controlled clock ticking every minute, as the scheduler tick does."""
    fired: list[datetime] = []
    last = start
    now = start
    while now <= end:
        if due(schedule, last, now):
            slot = last_run_at_or_before(schedule, now)
            fired.append(slot)
            last = slot
        now += timedelta(minutes=1)
    return fired


class TestWeekdaysAcrossDaylightSaving:
    """Weekdays at 06:00 in Chicago fire once per weekday at 06:00 local, before and after DST."""

    schedule = schedule_from_answers(
        frequency="weekdays", days=[], interval_days=None, time_of_day="06:00", time_zone=CHICAGO
    )

    def test_spring_forward_week_keeps_six_local(self) -> None:
        # 2026-03-08 (Sunday) clocks go from 02:00 CST to 03:00 CDT.
        fired = fire_times(self.schedule, utc(2026, 3, 5, 0, 0), utc(2026, 3, 11, 0, 0))
        assert fired == [
            utc(2026, 3, 5, 12, 0),  # Thu 06:00 CST (UTC-6)
            utc(2026, 3, 6, 12, 0),  # Fri
            utc(2026, 3, 9, 11, 0),  # Mon 06:00 CDT (UTC-5)
            utc(2026, 3, 10, 11, 0),  # Tue
        ]

    def test_fall_back_week_keeps_six_local(self) -> None:
        # 2026-11-01 (Sunday) clocks go from 02:00 CDT back to 01:00 CST.
        fired = fire_times(self.schedule, utc(2026, 10, 29, 0, 0), utc(2026, 11, 4, 0, 0))
        assert fired == [
            utc(2026, 10, 29, 11, 0),  # Thu 06:00 CDT
            utc(2026, 10, 30, 11, 0),  # Fri
            utc(2026, 11, 2, 12, 0),  # Mon 06:00 CST
            utc(2026, 11, 3, 12, 0),  # Tue
        ]

    def test_next_run_is_computed_from_any_instant(self) -> None:
        assert next_run_after(self.schedule, utc(2026, 3, 6, 12, 0)) == utc(2026, 3, 9, 11, 0)
        assert next_run_after(self.schedule, utc(2026, 3, 6, 11, 59)) == utc(2026, 3, 6, 12, 0)


class TestTimesThatDoNotExistOrHappenTwice:
    """A time in the spring gap runs at the gap's end; a fall-back time runs once, first."""

    def test_nonexistent_time_runs_at_the_end_of_the_gap(self) -> None:
        daily = schedule_from_answers(
            frequency="daily", days=[], interval_days=None, time_of_day="02:30", time_zone=CHICAGO
        )
        fired = fire_times(daily, utc(2026, 3, 7, 0, 0), utc(2026, 3, 10, 0, 0))
        assert fired == [
            utc(2026, 3, 7, 8, 30),  # 02:30 CST
            utc(2026, 3, 8, 8, 0),  # 02:30 does not exist: 03:00 CDT, the first valid instant
            utc(2026, 3, 9, 7, 30),  # 02:30 CDT
        ]

    def test_ambiguous_time_runs_once_at_its_first_occurrence(self) -> None:
        daily = schedule_from_answers(
            frequency="daily", days=[], interval_days=None, time_of_day="01:30", time_zone=CHICAGO
        )
        fired = fire_times(daily, utc(2026, 10, 31, 0, 0), utc(2026, 11, 3, 0, 0))
        assert fired == [
            utc(2026, 10, 31, 6, 30),  # 01:30 CDT
            utc(2026, 11, 1, 6, 30),  # the first 01:30 (CDT); the second (07:30Z) is not a run
            utc(2026, 11, 2, 7, 30),  # 01:30 CST
        ]

    def test_run_instant_of_gap_is_transition(self) -> None:
        schedule = Schedule(frequency=Frequency.DAILY, at=time(2, 0), time_zone=CHICAGO)
        assert run_instant(schedule, date(2026, 3, 8)) == utc(2026, 3, 8, 8, 0)


class TestOtherFrequencies:
    """Weekly and every-N-days schedules run on their days only."""

    def test_weekly_on_chosen_days(self) -> None:
        schedule = schedule_from_answers(
            frequency="weekly",
            days=["mon", "Thursday"],
            interval_days=None,
            time_of_day="05:00",
            time_zone="UTC",
        )
        fired = fire_times(schedule, utc(2026, 6, 1, 0, 0), utc(2026, 6, 12, 0, 0))
        assert [f.date() for f in fired] == [
            date(2026, 6, 1),
            date(2026, 6, 4),
            date(2026, 6, 8),
            date(2026, 6, 11),
        ]

    def test_every_n_days_counts_from_its_anchor(self) -> None:
        schedule = schedule_from_answers(
            frequency="every_n_days",
            days=[],
            interval_days=3,
            time_of_day="00:15",
            time_zone="UTC",
            anchor=date(2026, 6, 2),
        )
        assert next_run_after(schedule, utc(2026, 6, 2, 0, 15)) == utc(2026, 6, 5, 0, 15)
        assert last_run_at_or_before(schedule, utc(2026, 6, 4, 23, 0)) == utc(2026, 6, 2, 0, 15)


class TestRefusedSchedules:
    """Schedules 30 or more days apart, or that say nothing, are refused with the fix."""

    def test_thirty_days_is_refused_with_an_explanation(self) -> None:
        with pytest.raises(ConfigError, match=r"less than 30 days apart.*1 to 29"):
            schedule_from_answers(
                frequency="every_n_days",
                days=[],
                interval_days=30,
                time_of_day="05:00",
                time_zone=CHICAGO,
            )

    def test_twenty_nine_days_is_accepted(self) -> None:
        schedule = schedule_from_answers(
            frequency="every_n_days",
            days=[],
            interval_days=29,
            time_of_day="05:00",
            time_zone=CHICAGO,
        )
        assert schedule.interval_days == 29

    @pytest.mark.parametrize(
        ("answers", "match"),
        [
            ({"frequency": "weekly", "days": []}, "at least one day"),
            ({"frequency": "weekly", "days": ["funday"]}, "not a day of the week"),
            ({"frequency": "hourly"}, "not one of"),
            ({"time_of_day": "25:00"}, "HH:MM"),
            ({"time_zone": "Mars/Olympus"}, "IANA"),
        ],
    )
    def test_unusable_answers_are_refused(self, answers: dict[str, object], match: str) -> None:
        base: dict[str, object] = {
            "frequency": "daily",
            "days": [],
            "interval_days": None,
            "time_of_day": "05:00",
            "time_zone": CHICAGO,
        }
        with pytest.raises(ConfigError, match=match):
            schedule_from_answers(**{**base, **answers})  # type: ignore[arg-type]

    def test_describe_reads_as_words(self) -> None:
        schedule = schedule_from_answers(
            frequency="weekdays",
            days=[],
            interval_days=None,
            time_of_day="06:00",
            time_zone=CHICAGO,
        )
        assert schedule.describe() == "weekdays at 06:00 (America/Chicago)"
