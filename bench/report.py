"""Turning a benchmark's timings into ratios to their lower bounds, and a Markdown table.

Kept apart from the runner so a unit test can check the arithmetic from given timings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Each measured figure and the lower bound it is judged against (the targets).
TARGETS: dict[str, tuple[str, float]] = {
    "first_sync": ("read_parse+bulk_load", 3.0),
    "noop_resync": ("read_parse", 1.5),
    "delta_1pct": ("read_parse", 1.5),
}


def lower_bound(timings: Mapping[str, float], name: str) -> float:
    """The lower bound `name`: `read_parse`, `bulk_load`, or a sum (`read_parse+bulk_load`)."""
    return sum(timings[part] for part in name.split("+"))


def ratios(timings: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Each measured figure as a ratio to its lower bound, with the target and whether it is met.

    Args:
        timings: Seconds for `first_sync`, `noop_resync`, `delta_1pct`, `read_parse` and
            `bulk_load` (figures that are missing are left out).

    Returns:
        figure → {"seconds", "bound", "bound_seconds", "ratio", "target", "met"}.
    """
    result: dict[str, dict[str, Any]] = {}
    for figure, (bound, target) in TARGETS.items():
        if figure not in timings or any(p not in timings for p in bound.split("+")):
            continue
        bound_seconds = lower_bound(timings, bound)
        ratio = timings[figure] / bound_seconds if bound_seconds > 0 else float("inf")
        result[figure] = {
            "seconds": timings[figure],
            "bound": bound,
            "bound_seconds": bound_seconds,
            "ratio": ratio,
            "target": target,
            "met": ratio <= target,
        }
    return result


def markdown(results: Mapping[str, Any]) -> str:
    """A README-ready table: one row per backend and figure."""
    lines = [
        f"Students: {results['students']:,}; source: {results.get('source', 'OneRoster')}; "
        f"{results['machine']}",
        "",
        "| backend | figure | seconds | lower bound | bound s | ratio | target | peak RSS MB |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for backend, data in results["backends"].items():
        for figure, row in data["ratios"].items():
            lines.append(
                f"| {backend} | {figure} | {row['seconds']:.2f} | {row['bound']} | "
                f"{row['bound_seconds']:.2f} | {row['ratio']:.2f}× | ≤{row['target']}× | "
                f"{data['peak_rss_mb'].get(figure, 0):.0f} |"
            )
        for bound in ("read_parse", "bulk_load"):
            lines.append(
                f"| {backend} | {bound} (bound) | {data['timings'][bound]:.2f} | | | | | "
                f"{data['peak_rss_mb'].get(bound, 0):.0f} |"
            )
    return "\n".join(lines)
