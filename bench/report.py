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


# The same figures against the physical bound (`bench.physical`), measured in the same run: the
# issue's targets at 1,000,000 students. The 1% change is judged against the no-op resync.
PHYSICAL_TARGETS: dict[str, tuple[str, float]] = {
    "first_sync": ("parse_hash+load", 4.0),
    "noop_resync": ("parse_hash", 2.0),
    "delta_1pct": ("noop_resync", 1.2),
}
PEAK_MEMORY_TARGET_MB = 1024.0
SYNC_FIGURES = ("first_sync", "noop_resync", "delta_1pct")
# Targets with no figure to judge them by yet: the REST path has no sync benchmark.
UNMEASURED_TARGETS = (
    "REST no-op resync ≤ 2× rest_decode_hash",
    "REST first sync with 50 ms latency ≤ 1.5× (pages × 50 ms ÷ concurrency + physical bound)",
    "REST peak memory < 1 GB",
)


def lower_bound(timings: Mapping[str, float], name: str) -> float:
    """The lower bound `name`: `read_parse`, `bulk_load`, or a sum (`read_parse+bulk_load`)."""
    return sum(timings[part] for part in name.split("+"))


def ratios(
    timings: Mapping[str, float], targets: Mapping[str, tuple[str, float]] = TARGETS
) -> dict[str, dict[str, Any]]:
    """Each measured figure as a ratio to its lower bound, with the target and whether it is met.

    Args:
        timings: Seconds for `first_sync`, `noop_resync`, `delta_1pct`, `read_parse` and
            `bulk_load` (figures that are missing are left out), plus the physical bounds
            (`parse`, `parse_hash`, `load`) when `targets` is `PHYSICAL_TARGETS`.
        targets: figure → (bound, target ratio).

    Returns:
        figure → {"seconds", "bound", "bound_seconds", "ratio", "target", "met"}.
    """
    result: dict[str, dict[str, Any]] = {}
    for figure, (bound, target) in targets.items():
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
    return "\n".join(lines + _physical_lines(results))


def physical_ratios(timings: Mapping[str, float], physical: Mapping[str, float]) -> dict[str, Any]:
    """The sync figures against the physical bounds measured in the same run."""
    return ratios({**timings, **physical}, PHYSICAL_TARGETS)


def _physical_lines(results: Mapping[str, Any]) -> list[str]:
    backends = {b: d for b, d in results["backends"].items() if "physical" in d}
    if not backends:
        return []
    lines = [
        "",
        "Physical bounds (`bench.physical`: the C csv reader, BLAKE2b, the database driver; "
        "no rostersync code):",
        "",
        "| backend | bound | seconds | CPU s | rows | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for backend, data in backends.items():
        physical = data["physical"]
        for bound, seconds in physical["timings"].items():
            detail = physical["detail"].get(bound, {})
            rows = detail.get("rows", detail.get("records", 0))
            rows = sum(rows.values()) if isinstance(rows, dict) else rows
            lines.append(
                f"| {backend} | {bound} | {seconds:.2f} | {detail.get('cpu_seconds', 0):.2f} | "
                f"{rows:,} | {physical['peak_rss_mb'].get(bound, 0):.0f} |"
            )
    lines += [
        "",
        f"Targets (issue 17, set for 1,000,000 students; measured here at "
        f"{results['students']:,}):",
        "",
        "| backend | target | seconds | bound | bound s | ratio | met |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for backend, data in backends.items():
        for figure, row in data["physical_ratios"].items():
            lines.append(
                f"| {backend} | {figure} ≤ {row['target']}× {row['bound']} | "
                f"{row['seconds']:.2f} | {row['bound']} | {row['bound_seconds']:.2f} | "
                f"{row['ratio']:.2f}× | {'met' if row['met'] else 'not met'} |"
            )
        peak = max((data["peak_rss_mb"].get(f, 0.0) for f in SYNC_FIGURES), default=0.0)
        met = "met" if peak < PEAK_MEMORY_TARGET_MB else "not met"
        lines.append(
            f"| {backend} | bundle peak memory < {PEAK_MEMORY_TARGET_MB:.0f} MB | | | | "
            f"{peak:.0f} MB | {met} |"
        )
    for target in UNMEASURED_TARGETS:
        lines.append(f"| — | {target} | | | | | not measured |")
    wall = results.get("wall_seconds")
    if wall is not None and results["students"] == 10_000:
        met = "met" if wall < 120 else "not met"
        lines.append(f"| — | `make bench` (10,000 students) < 120 s | {wall:.1f} | | | | {met} |")
    if wall is not None and "cpu_seconds" in results:
        lines += [
            "",
            f"Whole run: {wall:.1f} s wall, {results['cpu_seconds']:.1f} s CPU in the benchmark's "
            "own processes (the PostgreSQL server's share not included).",
        ]
    return lines
