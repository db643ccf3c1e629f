"""The run chart drawn on the server: well-formed SVG with one bar of each kind per run, a title
and description a screen reader is pointed at, statuses told by a mark as well as a colour, and
ages and durations said in words; a run's counts become the chart's figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from rostersync.web.district_page import run_changes, run_errors
from rostersync.web.run_chart import (
    MARKS,
    SVG_NS,
    ChartRun,
    age_words,
    draw,
    run_words,
    seconds_words,
)

SVG = f"{{{SVG_NS}}}"
T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def runs(*specs: tuple[str, float | None, int]) -> list[ChartRun]:
    return [
        ChartRun(
            id=f"run-{i}",
            started_at=T0 + timedelta(days=i),
            status=status,
            seconds=seconds,
            changes=changes,
        )
        for i, (status, seconds, changes) in enumerate(specs)
    ]


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - markup this test drew


def heights(svg: ET.Element, kind: str) -> list[float]:
    return [
        float(r.get("height", "nan"))
        for r in svg.iter(f"{SVG}rect")
        if r.get("class") == f"bar {kind}"
    ]


class TestTheChart:
    def test_one_duration_bar_and_one_changes_bar_per_run_in_order(self) -> None:
        drawn = runs(*[("succeeded", float(i + 1), i * 10) for i in range(30)])
        svg = parsed(draw(drawn, title="Runs"))
        groups = svg.findall(f".//{SVG}g[@data-run]")
        assert [g.get("data-run") for g in groups] == [r.id for r in drawn]
        assert len(heights(svg, "duration")) == len(heights(svg, "changes")) == 30

    def test_bars_grow_with_duration_and_changes(self) -> None:
        svg = parsed(draw(runs(("succeeded", 10.0, 5), ("succeeded", 40.0, 50)), title="Runs"))
        short, long = heights(svg, "duration")
        few, many = heights(svg, "changes")
        assert long == pytest.approx(4 * short)
        assert many == pytest.approx(10 * few)

    def test_title_and_description_label_the_image(self) -> None:
        svg = parsed(draw(runs(("failed", 2.0, 0)), title="The last 1 runs", chart_id="c"))
        assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
        assert svg.get("aria-labelledby") == "c-title c-desc"
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert (
            title is not None and title.get("id") == "c-title" and title.text == "The last 1 runs"
        )
        assert desc is not None and desc.get("id") == "c-desc" and "1 failed" in (desc.text or "")

    def test_every_status_has_its_own_mark_and_its_words(self) -> None:
        statuses = list(MARKS)
        specs = [(s, 1.0, 0) for s in statuses if s != "succeeded_with_issues"]
        drawn = [
            *runs(*specs),
            ChartRun(id="x", started_at=T0, status="succeeded", seconds=1.0, changes=3, errors=2),
        ]
        svg = parsed(draw(drawn, title="Runs"))
        seen: dict[str, str] = {}
        for group in svg.findall(f".//{SVG}g[@data-run]"):
            mark, title = group.find(f"{SVG}text[@class='mark']"), group.find(f"{SVG}title")
            assert mark is not None and title is not None
            status = (group.get("class") or "").removeprefix("run status-").replace("-", "_")
            seen[status] = mark.text or ""
            assert status.replace("_", " ") in (title.text or "")
        assert seen == {s: MARKS[s][0] for s in statuses}
        assert len(set(seen.values())) == len(statuses), "no two statuses share a mark"

    def test_a_running_run_is_an_outline_said_as_still_running(self) -> None:
        (run,) = runs(("running", None, 0))
        svg = parsed(draw([run], title="Runs"))
        bar = next(r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar duration")
        assert bar.get("fill") == "none" and bar.get("stroke-dasharray")
        assert "still running" in run_words(run)

    def test_text_is_escaped_and_no_style_attribute_is_used(self) -> None:
        markup = str(draw(runs(("succeeded", 1.0, 1)), title='<script>alert("x")</script>'))
        assert "<script>" not in markup and "style=" not in markup
        title = parsed(markup).find(f"{SVG}title")
        assert title is not None and title.text == '<script>alert("x")</script>'

    def test_no_runs_draw_an_empty_chart(self) -> None:
        svg = parsed(draw([], title="No runs"))
        assert svg.findall(f".//{SVG}g[@data-run]") == []
        desc = svg.find(f"{SVG}desc")
        assert desc is not None and desc.text == "No runs yet."


class TestWords:
    @pytest.mark.parametrize(
        ("ago", "words"),
        [
            (timedelta(seconds=20), "just now"),
            (timedelta(minutes=1), "1 minute ago"),
            (timedelta(hours=3, minutes=59), "3 hours ago"),
            (timedelta(days=1, hours=2), "1 day ago"),
            (timedelta(days=400), "1 year ago"),
            (-timedelta(minutes=5, seconds=1), "in 5 minutes"),
            (-timedelta(seconds=5), "in under a minute"),
        ],
    )
    def test_ages(self, ago: timedelta, words: str) -> None:
        assert age_words(T0 - ago, T0) == words

    @pytest.mark.parametrize(
        ("seconds", "words"),
        [(None, "still running"), (0.2, "under a second"), (125.0, "2 min 5 s"), (3600.0, "1 h")],
    )
    def test_durations(self, seconds: float | None, words: str) -> None:
        assert seconds_words(seconds) == words


class TestCountsOfARun:
    def test_changes_add_every_kinds_changes_and_eligibility(self) -> None:
        counts = {
            "entities": {
                "student": {
                    "created": 40,
                    "updated": 3,
                    "restored": 1,
                    "deactivated": 2,
                    "unchanged": 9,
                },
                "class": {"created": 5, "updated": 0, "matched": 7},
            },
            "eligibility_changes": 4,
            "issues": {"errors": 2, "warnings": 5},
        }
        assert run_changes(counts) == 40 + 3 + 1 + 2 + 5 + 4
        assert run_errors(counts) == 2

    @pytest.mark.parametrize(
        "counts", [None, {}, {"entities": "?", "issues": []}, {"entities": {"student": None}}]
    )
    def test_missing_or_odd_counts_are_none(self, counts: dict[str, object] | None) -> None:
        assert run_changes(counts) == 0 and run_errors(counts) == 0
