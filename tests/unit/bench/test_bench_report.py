"""The benchmark's report: ratios to the lower bounds, from given timings."""

from __future__ import annotations

import pytest
from bench.report import markdown, ratios

TIMINGS = {
    "first_sync": 12.0,
    "noop_resync": 3.0,
    "delta_1pct": 4.5,
    "read_parse": 2.0,
    "bulk_load": 2.0,
}


class TestRatios:
    """Each figure is divided by its own lower bound and compared with the issue's target."""

    def test_first_sync_is_judged_against_read_parse_plus_bulk_load(self) -> None:
        row = ratios(TIMINGS)["first_sync"]
        assert row["bound_seconds"] == pytest.approx(4.0)
        assert row["ratio"] == pytest.approx(3.0)
        assert row["met"] is True  # exactly at the 3× target

    def test_resyncs_are_judged_against_read_parse_alone(self) -> None:
        result = ratios(TIMINGS)
        assert result["noop_resync"]["ratio"] == pytest.approx(1.5)
        assert result["noop_resync"]["met"] is True
        assert result["delta_1pct"]["ratio"] == pytest.approx(2.25)
        assert result["delta_1pct"]["met"] is False

    def test_a_figure_without_its_bound_is_left_out(self) -> None:
        assert set(ratios({"first_sync": 1.0, "read_parse": 1.0})) == set()

    def test_the_markdown_table_shows_each_ratio(self) -> None:
        results = {
            "students": 10_000,
            "source": "OneRoster 1.1 CSV bundle",
            "machine": "x86_64",
            "backends": {
                "sqlite": {"timings": TIMINGS, "ratios": ratios(TIMINGS), "peak_rss_mb": {}}
            },
        }
        table = markdown(results)
        assert (
            "| sqlite | first_sync | 12.00 | read_parse+bulk_load | 4.00 | 3.00× | ≤3.0× |" in table
        )
