"""Delta sync's pure parts: the watermark's timestamps, the filter, and validation that leans
on what the portal already holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests import factories as f

from rostersync.domain.records import EntityKind
from rostersync.domain.rules import DistrictRules
from rostersync.domain.validate import SourceRoster, validate_roster
from rostersync.store.delta import format_modified, newest_of, parse_modified
from rostersync.sync.bundle_source import BundleSource
from rostersync.sync.delta import FilterableSource, since_filter
from rostersync.sync.sources import OneRosterRestSource

RULES = DistrictRules()


def delta_of(*records: object) -> SourceRoster:
    roster = SourceRoster()
    for record in records:
        roster.add(record)  # type: ignore[arg-type]
    return roster


class TestTimestamps:
    """dateLastModified is read in every shape servers send and written in one shape."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-09-01T12:00:00Z", datetime(2026, 9, 1, 12, tzinfo=UTC)),
            ("2026-09-01T12:00:00.250Z", datetime(2026, 9, 1, 12, 0, 0, 250000, tzinfo=UTC)),
            ("2026-09-01T14:00:00+02:00", datetime(2026, 9, 1, 12, tzinfo=UTC)),
            ("2026-09-01T12:00:00", datetime(2026, 9, 1, 12, tzinfo=UTC)),
            ("2026-09-01", datetime(2026, 9, 1, tzinfo=UTC)),
        ],
    )
    def test_shapes_parse_to_utc(self, text: str, expected: datetime) -> None:
        assert parse_modified(text) == expected

    @pytest.mark.parametrize("text", [None, "", "  ", "yesterday", "2026-13-01T00:00:00Z"])
    def test_absent_or_unreadable_is_none(self, text: str | None) -> None:
        assert parse_modified(text) is None

    def test_format_is_utc_with_z_and_keeps_fractions(self) -> None:
        moment = datetime(2026, 9, 1, 14, 0, 0, 5, tzinfo=UTC) + timedelta(hours=-2)
        assert format_modified(moment) == "2026-09-01T12:00:00.000005Z"
        assert format_modified(datetime(2026, 9, 1, 12, tzinfo=UTC)) == "2026-09-01T12:00:00Z"

    def test_newest_compares_moments_not_text(self) -> None:
        # As text "…T13:30:00+02:00" sorts after "…T12:00:00Z", but it is 11:30 UTC.
        records = [
            f.student("a", date_last_modified="2026-09-01T13:30:00+02:00"),
            f.student("b", 2, date_last_modified="2026-09-01T12:00:00Z"),
            f.student("c", 3, date_last_modified=None),
        ]
        assert newest_of(r.date_last_modified for r in records) == "2026-09-01T12:00:00Z"
        assert newest_of([f.student("d", date_last_modified=None).date_last_modified]) is None


class TestFilter:
    """The delta filter starts an overlap window before the watermark, in whole seconds."""

    def test_filter_subtracts_the_overlap(self) -> None:
        assert since_filter("2026-09-01T12:00:00Z") == "dateLastModified>'2026-09-01T11:55:00Z'"

    def test_fractional_watermarks_are_floored_so_the_window_only_widens(self) -> None:
        got = since_filter("2026-09-01T12:00:00.900Z", timedelta(seconds=0))
        assert got == "dateLastModified>'2026-09-01T12:00:00Z'"

    def test_a_watermark_that_is_not_a_timestamp_is_refused(self) -> None:
        with pytest.raises(ValueError, match="not a dateLastModified"):
            since_filter("soon")

    def test_rest_sources_can_filter_and_bundles_cannot(self) -> None:
        rest = OneRosterRestSource("http://127.0.0.1:9/x", "k", "s")
        assert isinstance(rest, FilterableSource)
        assert not isinstance(BundleSource("missing.zip"), FilterableSource)


class TestValidationAgainstThePortal:
    """A delta's records resolve references to records the portal holds but the delta omits."""

    def test_without_known_a_lone_enrollment_points_at_unknown_records(self) -> None:
        result = validate_roster(delta_of(f.enrollment("enr-9", "stu-1")), RULES)
        assert {i.code for i in result.issues} == {"unknown_class", "unknown_user"}
        assert result.held[EntityKind.ENROLLMENT] == {"enr-9"}

    def test_known_class_and_student_let_a_new_enrollment_through(self) -> None:
        known = {EntityKind.CLASS: {"cls-1"}, EntityKind.STUDENT: {"stu-1"}}
        result = validate_roster(delta_of(f.enrollment("enr-9", "stu-1")), RULES, known=known)
        assert result.issues == []
        assert [r.sourced_id for r in result.valid[EntityKind.ENROLLMENT]] == ["enr-9"]

    def test_an_edited_student_resolves_its_school_from_the_portal(self) -> None:
        known = {EntityKind.ORG: {"sch-1"}}
        result = validate_roster(delta_of(f.student("stu-1")), RULES, known=known)
        assert result.issues == []
        assert [r.sourced_id for r in result.valid[EntityKind.STUDENT]] == ["stu-1"]

    def test_a_known_record_this_delta_removes_no_longer_resolves(self) -> None:
        known = {EntityKind.CLASS: {"cls-1"}, EntityKind.STUDENT: {"stu-1"}}
        roster = delta_of(f.student("stu-1", status="tobedeleted"), f.enrollment("enr-9", "stu-1"))
        result = validate_roster(roster, RULES, known=known)
        # Told as what it is: the district marked the student for deletion (not "share it").
        assert {i.code for i in result.issues} == {"deleted_user"}
        assert "marked for deletion" in result.issues[0].message
        assert result.held[EntityKind.ENROLLMENT] == {"enr-9"}

    def test_a_known_record_this_delta_holds_makes_its_dependents_wait(self) -> None:
        known = {EntityKind.CLASS: {"cls-1"}, EntityKind.STUDENT: {"stu-1"}, EntityKind.ORG: set()}
        # The student's school is neither in the delta nor in the portal: the student is held.
        roster = delta_of(f.student("stu-1"), f.enrollment("enr-9", "stu-1"))
        result = validate_roster(roster, RULES, known=known)
        assert {(i.sourced_id, i.code) for i in result.issues} == {("stu-1", "unknown_school")}
        assert result.held[EntityKind.ENROLLMENT] == {"enr-9"}
