"""The fleet benchmark's arithmetic: the busiest window at the server, spans, spreads, sizes."""

from __future__ import annotations

import math

import pytest
from bench.fleet import spread_sizes
from bench.fleet_report import busiest_window, by_size_quartile, percentile, tightest_span


def test_the_busiest_window_may_start_between_whole_seconds() -> None:
    stamps = [0.0, 0.1, 0.5, 0.99, 1.0, 1.05, 1.5, 3.0]
    # [0, 1) holds four; [0.1, 1.1) holds five.
    assert busiest_window(stamps, 1.0) == (5, 0.1)
    assert busiest_window([], 1.0) == (0, 0.0)


def test_the_tightest_span_of_n_requests() -> None:
    stamps = [0.0, 0.4, 0.9, 1.0, 1.2]
    assert tightest_span(stamps, 3) == pytest.approx(0.3)  # 0.9, 1.0, 1.2
    assert math.isinf(tightest_span(stamps, 6))


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile([], 0.5) == 0.0


def test_sizes_spread_evenly_and_interleave_big_and_small() -> None:
    sizes = spread_sizes(5, 500, 5000)
    assert sorted(sizes) == [500, 1625, 2750, 3875, 5000]
    assert sizes[:2] == [500, 5000]


def test_quartiles_average_each_quarter_of_the_districts_by_size() -> None:
    sizes = {"a": 100, "b": 200, "c": 300, "d": 400}
    rows = by_size_quartile(sizes, {"a": 1.0, "b": 2.0, "c": 3.0})
    assert [(r["students_from"], r["mean"]) for r in rows] == [
        (100.0, 1.0),
        (200.0, 2.0),
        (300.0, 3.0),
        (400.0, 0.0),
    ]
