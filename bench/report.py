"""Turning a benchmark's timings into ratios to their lower bounds, and Markdown tables.

Kept apart from the runner so a unit test can check the arithmetic from given timings. Every
table is printed from a results file of `bench.sync_bench`, so no figure is typed by hand:

    .venv/bin/python -m bench.report bench/results/<file>.json            # every table
    .venv/bin/python -m bench.report bench/results/<file>.json --readme   # the README's table
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
# The REST path's figures (`bench.rest_bench`'s syncs) against the same run's physical bounds:
# the JSON pages decoded and hashed, plus the load for a first sync. With latency, the wait for
# the pages at best (`latency_wait`: requests × latency ÷ page concurrency) is added to the bound.
REST_TARGETS: dict[str, tuple[str, float]] = {
    "first_sync": ("rest_decode_hash+load", 4.0),
    "noop_resync": ("rest_decode_hash", 2.0),
    "first_sync_latency": ("latency_wait+rest_decode_hash+load", 1.5),
}
REST_FIGURES = tuple(REST_TARGETS)
PEAK_MEMORY_TARGET_MB = 1024.0
SYNC_FIGURES = ("first_sync", "noop_resync", "delta_1pct")
# `make bench`'s own target: the whole run at 10,000 students.
MAKE_BENCH_STUDENTS, MAKE_BENCH_SECONDS = 10_000, 120.0
BACKEND_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


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


def rest_figures(
    outs: Mapping[str, Mapping[str, Any]],
    physical: Mapping[str, float],
    *,
    latency: float,
    concurrency: int,
) -> dict[str, Any]:
    """A backend's REST figures, from what each sync's child reported, judged against the
    physical bounds of the same run.

    Args:
        outs: figure (`first_sync`, `noop_resync`, `first_sync_latency`) → the child's
            {"seconds", "cpu_seconds", "peak_mb", "requests", "records"}
            (`bench.rest_bench.measure_sync`); figures that are missing are left out.
        physical: the physical bounds' seconds (`rest_decode_hash`, `load`, …).
        latency: seconds each answer was held back in `first_sync_latency`.
        concurrency: pages fetched at once.

    Returns:
        {"concurrency", "latency", "timings", "peak_rss_mb", "detail", "ratios"}; `timings`
        also holds `latency_wait` (requests of `first_sync_latency` × latency ÷ concurrency)
        when that figure was measured.
    """
    timings = {figure: float(out["seconds"]) for figure, out in outs.items()}
    if "first_sync_latency" in outs:
        requests = outs["first_sync_latency"]["requests"]
        timings["latency_wait"] = requests * latency / concurrency
    return {
        "concurrency": concurrency,
        "latency": latency,
        "timings": timings,
        "peak_rss_mb": {figure: float(out["peak_mb"]) for figure, out in outs.items()},
        "detail": {
            figure: {k: out[k] for k in ("cpu_seconds", "requests", "records") if k in out}
            for figure, out in outs.items()
        },
        "ratios": ratios({**physical, **timings}, REST_TARGETS),
    }


@dataclass(frozen=True)
class Judged:
    """One target of the issue for one backend (or the whole run), met, not met or unmeasured."""

    target: str
    backend: str
    measured: str  # "17.47×", "160 MB", "67.0 s"; "" when not measured
    met: bool | None  # None: not measured in this run
    seconds: float | None = None
    bound: str = ""
    bound_seconds: float | None = None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "not met", None: "not measured"}[self.met]


def judged(results: Mapping[str, Any]) -> list[Judged]:
    """Every target of the issue, per backend, in the issue's order, from a results file.

    A backend measured without its physical bounds or without the REST path (`--no-rest`) gets
    its targets as not measured, so a table never silently drops a target.
    """
    backends = dict(sorted(results["backends"].items()))
    rows: list[Judged] = []
    rest_of = {b: d.get("rest") for b, d in backends.items()}
    some_rest = next((r for r in rest_of.values() if r), None)
    latency = some_rest["latency"] if some_rest else 0.05
    concurrency = some_rest["concurrency"] if some_rest else 4
    specs = [
        ("bundle", "first_sync", "bundle first sync ≤ 4× (parse_hash + load)"),
        ("bundle", "noop_resync", "bundle no-op resync ≤ 2× parse_hash"),
        ("bundle", "delta_1pct", "bundle 1% change ≤ 1.2× bundle no-op"),
        ("rest", "first_sync", "REST first sync ≤ 4× (rest_decode_hash + load)"),
        ("rest", "noop_resync", "REST no-op resync ≤ 2× rest_decode_hash"),
        (
            "rest",
            "first_sync_latency",
            f"REST first sync, {latency * 1000:.0f} ms a request ≤ 1.5× (pages × "
            f"{latency * 1000:.0f} ms ÷ {concurrency} + rest_decode_hash + load)",
        ),
    ]
    for path, figure, label in specs:
        for backend, data in backends.items():
            source = data.get("physical_ratios") if path == "bundle" else rest_of[backend]
            if path == "rest" and source:
                source = source["ratios"]
            row = (source or {}).get(figure)
            if row is None:
                rows.append(Judged(label, backend, "", None))
                continue
            rows.append(
                Judged(
                    label,
                    backend,
                    f"{row['ratio']:.2f}×",
                    bool(row["met"]),
                    row["seconds"],
                    row["bound"],
                    row["bound_seconds"],
                )
            )
    limit = f"{PEAK_MEMORY_TARGET_MB / 1024:.0f} GB"
    for path in ("bundle", "rest"):
        label = f"{'bundle' if path == 'bundle' else 'REST'} peak memory < {limit}"
        for backend, data in backends.items():
            peaks = (
                [data["peak_rss_mb"].get(f, 0.0) for f in SYNC_FIGURES]
                if path == "bundle"
                else list((rest_of[backend] or {}).get("peak_rss_mb", {}).values())
            )
            if not peaks:
                rows.append(Judged(label, backend, "", None))
                continue
            peak = max(peaks)
            rows.append(Judged(label, backend, f"{peak:.0f} MB", peak < PEAK_MEMORY_TARGET_MB))
    wall = results.get("wall_seconds")
    if wall is not None and results["students"] == MAKE_BENCH_STUDENTS:
        label = f"`make bench` ({MAKE_BENCH_STUDENTS:,} students) < {MAKE_BENCH_SECONDS:.0f} s"
        cpu = results.get("cpu_seconds")
        measured = f"{wall:.1f} s" + (f" ({cpu:.1f} s CPU)" if cpu is not None else "")
        rows.append(Judged(label, "", measured, wall < MAKE_BENCH_SECONDS, wall))
    return rows


def readme(results: Mapping[str, Any], name: str = "") -> str:
    """The README's compact table: one row per target, a column per database (the ratio, the
    figure and its bound in seconds, met or not), then how it was measured.

    Args:
        results: a results file of `bench.sync_bench`.
        name: the results file's name, printed under the table.
    """
    rows = judged(results)
    backends = list(dict.fromkeys(r.backend for r in rows if r.backend))
    head = " | ".join(BACKEND_NAMES.get(b, b) for b in backends)
    lines = [
        f"| target (issue 17, set for 1,000,000 students) | {head} |",
        "|---|" + "---:|" * len(backends),
    ]
    by_target: dict[str, dict[str, Judged]] = {}
    for row in rows:
        by_target.setdefault(row.target, {})[row.backend] = row
    for target, cells in by_target.items():
        if "" in cells:  # a figure of the whole run, not of one database
            row = cells[""]
            lines.append(f"| {target} | {_cell(row)} |" + " |" * (len(backends) - 1))
            continue
        values = " | ".join(_cell(cells[b]) if b in cells else "—" for b in backends)
        lines.append(f"| {target} | {values} |")
    commit = f"`{results.get('commit') or 'unknown'}`"
    changed = results.get("uncommitted_changes")
    if changed:  # the files (older results files: true)
        count = f" to {len(changed)} file{'s' if len(changed) > 1 else ''}"
        commit += " plus uncommitted changes" + (count if isinstance(changed, list) else "")
    facts = [
        f"{results['students']:,} students, `{results['command']}` at commit {commit}",
        results["machine"],
    ]
    load = results.get("load_average", {})
    if "start" in load and "end" in load:
        facts.append(f"load average {load['start']:.1f} at the start, {load['end']:.1f} at the end")
    if name:
        facts.append(f"results `{name}`")
    return "\n".join([*lines, "", "; ".join(facts) + "."])


def _cell(row: Judged) -> str:
    """One target's figure for one database: "9.75× (4.53 ÷ 0.46 s), not met"."""
    if not row.measured:
        return "not measured"
    measured = row.measured
    if row.bound_seconds is not None and row.seconds is not None:
        measured += f" ({row.seconds:.2f} ÷ {row.bound_seconds:.2f} s)"
    return f"{measured}, {row.verdict}"


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
    lines += _rest_lines(results)
    lines += [
        "",
        f"Targets (issue 17, set for 1,000,000 students; measured here at "
        f"{results['students']:,}):",
        "",
        "| backend | target | seconds | bound | bound s | ratio | met |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for row in judged(results):
        seconds = "" if row.seconds is None else f"{row.seconds:.2f}"
        bound_seconds = "" if row.bound_seconds is None else f"{row.bound_seconds:.2f}"
        lines.append(
            f"| {row.backend or '—'} | {row.target} | {seconds} | {row.bound} | {bound_seconds} "
            f"| {row.measured} | {row.verdict} |"
        )
    wall = results.get("wall_seconds")
    if wall is not None and "cpu_seconds" in results:
        lines += [
            "",
            f"Whole run: {wall:.1f} s wall, {results['cpu_seconds']:.1f} s CPU in the benchmark's "
            "own processes (the PostgreSQL server's share not included).",
        ]
    return lines


def _rest_lines(results: Mapping[str, Any]) -> list[str]:
    backends = {b: d["rest"] for b, d in results["backends"].items() if d.get("rest")}
    if not backends:
        return []
    lines = [
        "",
        "REST path (`bench.rest_bench`: the simulator in its own process, each sync in a fresh "
        "one):",
        "",
        "| backend | figure | concurrency | latency ms | seconds | CPU s | requests | peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, rest in backends.items():
        for figure in REST_FIGURES:
            if figure not in rest["detail"]:
                continue
            detail = rest["detail"][figure]
            latency = rest["latency"] * 1000 if figure == "first_sync_latency" else 0
            lines.append(
                f"| {backend} | {figure} | {rest['concurrency']} | {latency:.0f} | "
                f"{rest['timings'][figure]:.2f} | {detail.get('cpu_seconds', 0):.2f} | "
                f"{detail.get('requests', 0):,} | {rest['peak_rss_mb'][figure]:.0f} |"
            )
    return lines


def summary(results: Mapping[str, Any]) -> str:
    """One row per backend: each sync figure against the physical bound, target met or not."""
    lines = [
        "| backend | first sync s | ÷ parse_hash+load (≤ 4×) | no-op s | ÷ parse_hash (≤ 2×) | "
        "1% change ÷ no-op (≤ 1.2×) | parse / parse_hash / load / REST decode s | "
        "first sync, no-op ÷ own bounds (≤ 3×, ≤ 1.5×) | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def judged(row: Mapping[str, Any]) -> str:
        return f"{row['ratio']:.2f}× {'met' if row['met'] else 'not met'}"

    for backend, data in results["backends"].items():
        if "physical_ratios" not in data:
            continue
        phys, own, bounds = data["physical_ratios"], data["ratios"], data["physical"]["timings"]
        peak = max((data["peak_rss_mb"].get(f, 0.0) for f in SYNC_FIGURES), default=0.0)
        lines.append(
            f"| {backend} | {phys['first_sync']['seconds']:.2f} | {judged(phys['first_sync'])} | "
            f"{phys['noop_resync']['seconds']:.2f} | {judged(phys['noop_resync'])} | "
            f"{judged(phys['delta_1pct'])} | "
            + " / ".join(f"{bounds[b]:.2f}" for b in ("parse", "parse_hash", "load"))
            + f" / {bounds['rest_decode_hash']:.2f} | "
            f"{own['first_sync']['ratio']:.2f}×, {own['noop_resync']['ratio']:.2f}× | {peak:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the tables of a results file: `python -m bench.report bench/results/X.json`
    (`--readme`: the README's table of targets; `--summary`: one row per backend)."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("results", type=Path)
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--summary", action="store_true", help="one row per backend only")
    shape.add_argument(
        "--readme", action="store_true", help="the README's table: one row per target and backend"
    )
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    if args.readme:
        print(readme(results, args.results.name))
    else:
        print(summary(results) if args.summary else markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
