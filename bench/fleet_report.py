"""The fleet benchmark's arithmetic and table, apart from its runner so it can be checked alone.

- `busiest_window`: the most requests the server saw in any window of the budget's length, the
  oracle for "the shared budget was never exceeded";
- `percentile`, `spread`: run durations and budget waits per district;
- `markdown`: the table `bench.fleet` prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def busiest_window(stamps: Sequence[float], window: float) -> tuple[int, float]:
    """The most stamps in any half-open window `[t, t + window)`, and the `t` where it starts.

    Every window that holds the most stamps can be slid right until it starts at a stamp, so
    only windows starting at a stamp are counted.
    """
    times = sorted(stamps)
    most, start, end = 0, 0.0, 0
    for first, t in enumerate(times):
        end = max(end, first)
        while end < len(times) and times[end] < t + window:
            end += 1
        if end - first > most:
            most, start = end - first, t
    return most, start


def tightest_span(stamps: Sequence[float], count: int) -> float:
    """The shortest time in which `count` stamps arrived (infinite when there are fewer): with a
    budget of N per window, N + 1 requests must span at least the window."""
    times = sorted(stamps)
    if count < 1 or len(times) < count:
        return math.inf
    return min(times[i + count - 1] - times[i] for i in range(len(times) - count + 1))


def percentile(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0–1) of `values`, nearest rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> dict[str, float]:
    """Min, median, p95, max and mean of `values`."""
    return {
        "min": min(values, default=0.0),
        "median": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": max(values, default=0.0),
        "mean": sum(values) / len(values) if values else 0.0,
    }


def by_size_quartile(
    sizes: Mapping[str, int], values: Mapping[str, float]
) -> list[dict[str, float]]:
    """`values` per district averaged over each quarter of the districts by size, smallest
    first: a fair budget makes small districts wait no more per request than big ones."""
    ordered = sorted(sizes, key=lambda d: sizes[d])
    quarters = [ordered[i * len(ordered) // 4 : (i + 1) * len(ordered) // 4] for i in range(4)]
    rows = []
    for quarter in quarters:
        if not quarter:
            continue
        rows.append(
            {
                "students_from": float(sizes[quarter[0]]),
                "students_to": float(sizes[quarter[-1]]),
                "mean": sum(values.get(d, 0.0) for d in quarter) / len(quarter),
            }
        )
    return rows


def markdown(results: Mapping[str, Any]) -> str:
    """The benchmark's figures as a Markdown table, with the conditions they were measured in."""
    r1, r2, budget = results["round1"], results["round2"], results["budget"]
    noop = results["noop_overhead"]
    lines = [
        f"{results['districts']} districts ({results['students']:,} students, "
        f"{results['students_min']:,}–{results['students_max']:,} each); "
        f"{results['worker_processes']} workers × {results['threads']} threads on Redis, "
        f"PostgreSQL; budget {budget['limit']} requests per {budget['window_seconds']:g} s; "
        f"{results['machine']}",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| round 1 (first sync) wall | {r1['wall_seconds']:.1f} s |",
        f"| round 1 runs succeeded | {r1['succeeded']} of {results['districts']} |",
        f"| round 1 run duration median / p95 | {r1['run_seconds']['median']:.2f} s / "
        f"{r1['run_seconds']['p95']:.2f} s |",
        f"| round 1 roster requests | {r1['requests']:,} |",
        f"| round 2 (no-op) wall | {r2['wall_seconds']:.1f} s |",
        f"| round 2 runs succeeded | {r2['succeeded']} of {results['districts']} |",
        f"| no-op overhead per district (wall × workers ÷ districts) | "
        f"{noop['per_district_seconds'] * 1000:.0f} ms (target < 100 ms) |",
        f"| no-op run duration median / p95 | {r2['run_seconds']['median'] * 1000:.0f} ms / "
        f"{r2['run_seconds']['p95'] * 1000:.0f} ms |",
        f"| the same from the runs table (to the write's start) | "
        f"{r2['runs_table_seconds']['median'] * 1000:.0f} ms / "
        f"{r2['runs_table_seconds']['p95'] * 1000:.0f} ms |",
        f"| busiest {budget['window_seconds']:g} s at the server | {budget['max_requests']} "
        f"requests (budget {budget['limit']}: "
        f"{'never exceeded' if budget['within'] else 'exceeded'}) |",
        f"| shortest span of {budget['limit'] + 1} requests at the server | "
        f"{budget['tightest_span']:.3f} s (≥ {budget['window_seconds']:g} s when never exceeded) |",
        f"| round 1 / round 2 wall the budget alone needs (requests ÷ rate) | "
        f"{r1['budget_floor_seconds']:.1f} s / {r2['budget_floor_seconds']:.1f} s |",
        f"| budget waits per district, round 1: median / p95 / max | "
        f"{r1['budget_wait']['median']:.1f} s / {r1['budget_wait']['p95']:.1f} s / "
        f"{r1['budget_wait']['max']:.1f} s |",
        f"| peak queue depth (pending messages) | {results['peak_queue_depth']} |",
    ]
    phases = results.get("phase_seconds")
    if phases:
        lines += [
            "",
            "Mean seconds per run in each phase (the workers' `rostersync_run_phase_seconds`):",
            "",
            "| round | pulling | validating | planning | writing |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, label in (("round1", "first sync"), ("round2", "no-op")):
            row = phases[name]
            lines.append(
                f"| {label} | {row['pulling']:.2f} | {row['validating']:.2f} | "
                f"{row['planning']:.2f} | {row['writing']:.2f} |"
            )
    lines += [
        "",
        "Budget wait per roster request in round 1, by district size (fairness: one ticket per "
        "district):",
        "",
        "| students | mean wait per request |",
        "|---|---:|",
    ]
    for row in r1["wait_per_request_by_size"]:
        lines.append(
            f"| {row['students_from']:,.0f}–{row['students_to']:,.0f} | "
            f"{row['mean'] * 1000:.0f} ms |"
        )
    return "\n".join(lines)
