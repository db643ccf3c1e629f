"""The districts list reads every district's schedule in a fixed number of queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from rostersync.services import Questionnaire, Services


def onboard(portal: Services, n: int, **answers: Any) -> None:
    portal.districts.add(
        Questionnaire(
            slug=f"district-{n:03d}",
            name=f"District {n}",
            display_name=f"District {n:03d} – Town {n}, IL",
            city=f"Town {n}",
            state="IL",
            source_url=f"https://d{n}.example/ims/oneroster/v1p1",
            key="k",
            secret="s",
            **answers,
        )
    )


def statements_for(portal: Services) -> tuple[int, list[Any]]:
    seen: list[str] = []

    def count(*_args: Any) -> None:
        seen.append("x")

    event.listen(portal.engine, "before_cursor_execute", count)
    try:
        overviews = portal.districts.overviews()
    finally:
        event.remove(portal.engine, "before_cursor_execute", count)
    return len(seen), overviews


def test_the_query_count_does_not_grow_with_the_number_of_districts(portal: Services) -> None:
    for n in range(3):
        onboard(portal, n)
    few, _ = statements_for(portal)
    for n in range(3, 30):
        onboard(portal, n)
    many, overviews = statements_for(portal)
    assert len(overviews) == 30
    assert many == few


def test_each_district_gets_its_own_next_sync(portal: Services) -> None:
    onboard(portal, 1, sync_time="05:00")
    onboard(portal, 2, sync_time="17:30")
    overviews = {o.district.slug: o for o in portal.districts.overviews()}
    first = overviews["district-001"].next_sync_at
    second = overviews["district-002"].next_sync_at
    assert first is not None and second is not None
    assert first == portal.districts.schedule("district-001").next_run_utc
    assert second == portal.districts.schedule("district-002").next_run_utc
    assert first != second


def test_a_push_district_shows_no_next_sync(portal: Services) -> None:
    portal.districts.add(
        Questionnaire(
            slug="pushing",
            name="Pushing USD",
            display_name="Pushing USD – Town, IL",
            city="Town",
            state="IL",
            source_kind="oneroster-push",
        )
    )
    onboard(portal, 1)
    overviews = {o.district.slug: o for o in portal.districts.overviews()}
    assert overviews["pushing"].next_sync_at is None
    assert overviews["district-001"].next_sync_at is not None
