"""What a record page says the roster sent last: only the values that differ from what the
portal keeps, read from the record's own open issues, for people and for classes."""

from __future__ import annotations

from datetime import UTC, datetime

from rostersync.store.record_pages import ClassRecord
from rostersync.store.runs import IssueRecord
from rostersync.web.records import SentValue, sent_differently

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def issue(entity: str, sourced_id: str, **subject: str) -> IssueRecord:
    return IssueRecord(
        id=f"i-{sourced_id}",
        run_id="r-1",
        district_id="d-1",
        entity=entity,
        sourced_id=sourced_id,
        field="terms",
        code="missing_term",
        severity="error",
        message="",
        fix="",
        status="open",
        created_at=NOW,
        closed_at=None,
        **{f"subject_{k}": v for k, v in subject.items()},
    )


def reading(**values: object) -> ClassRecord:
    fields: dict[str, object] = {
        "portal_id": "p-1",
        "sourced_id": "cls-1",
        "title": "Reading 1",
        "code": "RD1",
        "school": "Lincoln ES",
    }
    return ClassRecord(**{**fields, **values})  # type: ignore[arg-type]


def test_a_held_class_update_shows_the_title_the_roster_sent() -> None:
    sent = issue("class", "cls-1", name="Reading 1A", code="RD1", school="Lincoln ES")
    assert sent_differently(reading(), [sent], "class") == [
        SentValue("Title", "Reading 1", "Reading 1A")
    ]


def test_only_the_records_own_issues_count_and_blank_values_are_not_differences() -> None:
    another = issue("class", "cls-2", name="Maths")
    enrollment = issue("enrollment", "cls-1", name="Ada in Reading 1")
    blank = issue("class", "cls-1", name="", code="", school="")
    assert sent_differently(reading(), [another, enrollment, blank], "class") == []


def test_a_record_the_portal_does_not_hold_has_nothing_to_compare() -> None:
    sent = issue("class", "cls-1", name="Reading 1A")
    assert sent_differently(reading(held=True, portal_id=None), [sent], "class") == []
