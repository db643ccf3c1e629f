"""Safeguards hold plans over a district's thresholds and skip scheduled syncs in a pause."""

from __future__ import annotations

from datetime import date

import pytest

from rostersync.domain.records import EntityKind
from rostersync.domain.safeguards import (
    PauseWindow,
    PlanSize,
    Safeguards,
    Threshold,
    check_plan,
    skip_reason,
)


def size(kind: EntityKind = EntityKind.STUDENT, *, active: int, updates: int = 0, gone: int = 0):
    return {kind: PlanSize(kind=kind, active=active, updates=updates, deactivations=gone)}


class TestThresholds:
    """Deactivations over 10% or 500, or updates over 75%, hold the plan by default."""

    def test_forty_percent_of_students_leaving_is_held_with_a_readable_reason(self) -> None:
        (reason,) = check_plan(size(active=300, gone=120), Safeguards())
        assert reason == "students: 120 deactivations is 40% of 300 active (limit 10%)"

    def test_exactly_at_the_limit_passes(self) -> None:
        assert check_plan(size(active=300, gone=30, updates=225), Safeguards()) == []

    def test_more_than_500_deactivations_is_held_whatever_the_ratio(self) -> None:
        (reason,) = check_plan(size(active=100_000, gone=501), Safeguards())
        assert "501 deactivations" in reason and "500" in reason

    def test_updates_over_three_quarters_are_held(self) -> None:
        (reason,) = check_plan(size(active=100, updates=80), Safeguards())
        assert reason.startswith("students: 80 updates is 80% of 100 active")

    def test_a_first_sync_with_nothing_active_is_never_held(self) -> None:
        assert check_plan(size(active=0), Safeguards()) == []

    def test_a_per_kind_override_applies_to_that_kind_only(self) -> None:
        guards = Safeguards.from_json({"per_kind": {"enrollment": {"max_deactivation_ratio": 0.5}}})
        sizes = {
            **size(EntityKind.ENROLLMENT, active=100, gone=40),
            **size(EntityKind.STUDENT, active=100, gone=40),
        }
        (reason,) = check_plan(sizes, guards)
        assert reason.startswith("students:")

    def test_settings_round_trip_and_refuse_unknown_kinds(self) -> None:
        guards = Safeguards(
            default=Threshold(max_deactivations=50),
            per_kind={"student": Threshold(max_update_ratio=0.9)},
        )
        assert Safeguards.from_json(guards.to_json()) == guards
        with pytest.raises(ValueError):
            Safeguards.from_json({"per_kind": {"pupil": {}}})


class TestPauseWindow:
    """A pause window skips scheduled syncs only; a person may still sync by hand."""

    window = PauseWindow(start=date(2026, 6, 15), end=date(2026, 8, 10))

    def test_scheduled_sync_inside_the_window_is_skipped_with_the_dates(self) -> None:
        reason = skip_reason("scheduled", self.window, date(2026, 7, 1))
        assert reason is not None and "2026-06-15" in reason and "2026-08-10" in reason

    def test_manual_sync_inside_the_window_runs(self) -> None:
        assert skip_reason("manual", self.window, date(2026, 7, 1)) is None

    def test_scheduled_sync_outside_the_window_runs(self) -> None:
        assert skip_reason("scheduled", self.window, date(2026, 8, 11)) is None

    def test_a_window_that_ends_before_it_starts_is_refused(self) -> None:
        with pytest.raises(ValueError):
            PauseWindow(start=date(2026, 8, 1), end=date(2026, 7, 1))
