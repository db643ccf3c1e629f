"""The benchmark's report: ratios to the lower bounds, the REST figures merged in, and the
README's table of targets, all from given timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench.report import judged, main, markdown, physical_ratios, ratios, readme, rest_figures

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


# The REST path and the README's table ------------------------------------------------------------

PHYSICAL = {"parse": 0.5, "parse_hash": 1.0, "load": 2.0, "rest_decode_hash": 1.5}
BUNDLE = {"first_sync": 12.0, "noop_resync": 3.0, "delta_1pct": 3.3, "read_parse": 2.0}


def rest_out(seconds: float, requests: int = 80, peak_mb: float = 180.0) -> dict[str, Any]:
    """What `bench.rest_bench.measure_sync` reports for one sync."""
    return {
        "seconds": seconds,
        "cpu_seconds": seconds / 2,
        "peak_mb": peak_mb,
        "requests": requests,
        "records": {"users": 10},
    }


REST_OUTS = {
    "first_sync": rest_out(10.5),
    "noop_resync": rest_out(2.0, peak_mb=170.0),
    "first_sync_latency": rest_out(9.0, peak_mb=1100.0),
}


def backend(rest: bool = True) -> dict[str, Any]:
    """A backend's results as `bench.sync_bench` writes them, from given timings."""
    data: dict[str, Any] = {
        "timings": {**BUNDLE, "bulk_load": 2.0},
        "ratios": ratios({**BUNDLE, "bulk_load": 2.0}),
        "peak_rss_mb": {"first_sync": 300.0, "noop_resync": 200.0},
        "physical": {"timings": PHYSICAL, "peak_rss_mb": {}, "detail": {}},
        "physical_ratios": physical_ratios(BUNDLE, PHYSICAL),
    }
    if rest:
        data["rest"] = rest_figures(REST_OUTS, PHYSICAL, latency=0.05, concurrency=4)
    return data


def results_of(**backends: dict[str, Any]) -> dict[str, Any]:
    return {
        "students": 10_000,
        "machine": "x86_64, 2 cores, Python 3.11.7",
        "command": "python -m bench.sync_bench --students 10000 --bundles var/bench",
        "commit": "abc1234",
        "uncommitted_changes": [],
        "load_average": {"start": 1.5, "end": 2.25},
        "wall_seconds": 95.0,
        "cpu_seconds": 80.0,
        "backends": backends,
    }


class TestRestFigures:
    """Each REST sync's child output is merged into the backend and judged against the same
    run's physical bounds."""

    def test_first_sync_is_judged_against_rest_decode_hash_plus_load(self) -> None:
        row = rest_figures(REST_OUTS, PHYSICAL, latency=0.05, concurrency=4)["ratios"]["first_sync"]
        assert row["bound"] == "rest_decode_hash+load"
        assert row["bound_seconds"] == pytest.approx(3.5)
        assert row["ratio"] == pytest.approx(3.0)
        assert row["met"] is True

    def test_noop_is_judged_against_rest_decode_hash_alone(self) -> None:
        row = rest_figures(REST_OUTS, PHYSICAL, latency=0.05, concurrency=4)["ratios"]
        assert row["noop_resync"]["bound_seconds"] == pytest.approx(1.5)
        assert row["noop_resync"]["ratio"] == pytest.approx(2.0 / 1.5)
        assert row["noop_resync"]["met"] is True

    def test_latency_adds_the_wait_for_the_requests_sent_at_the_concurrency(self) -> None:
        rest = rest_figures(REST_OUTS, PHYSICAL, latency=0.05, concurrency=4)
        # 80 requests × 50 ms ÷ 4 at once = 1 s, plus rest_decode_hash 1.5 s and load 2 s.
        assert rest["timings"]["latency_wait"] == pytest.approx(1.0)
        row = rest["ratios"]["first_sync_latency"]
        assert row["bound_seconds"] == pytest.approx(4.5)
        assert row["ratio"] == pytest.approx(2.0)
        assert row["met"] is False

    def test_the_wait_follows_the_requests_of_the_latency_run_not_the_others(self) -> None:
        outs = {**REST_OUTS, "first_sync_latency": rest_out(9.0, requests=200)}
        rest = rest_figures(outs, PHYSICAL, latency=0.05, concurrency=2)
        assert rest["timings"]["latency_wait"] == pytest.approx(5.0)

    def test_peaks_and_details_are_kept_per_figure(self) -> None:
        rest = rest_figures(REST_OUTS, PHYSICAL, latency=0.05, concurrency=4)
        assert rest["peak_rss_mb"] == {
            "first_sync": 180.0,
            "noop_resync": 170.0,
            "first_sync_latency": 1100.0,
        }
        assert rest["detail"]["noop_resync"] == {
            "cpu_seconds": 1.0,
            "requests": 80,
            "records": {"users": 10},
        }
        assert (rest["concurrency"], rest["latency"]) == (4, 0.05)

    def test_without_the_latency_run_there_is_no_latency_target(self) -> None:
        outs = {k: v for k, v in REST_OUTS.items() if k != "first_sync_latency"}
        rest = rest_figures(outs, PHYSICAL, latency=0.05, concurrency=4)
        assert "latency_wait" not in rest["timings"]
        assert set(rest["ratios"]) == {"first_sync", "noop_resync"}


class TestJudged:
    """Every target, per backend, in the issue's order; nothing unmeasured drops out."""

    def test_each_target_has_a_row_per_backend_in_order(self) -> None:
        rows = judged(results_of(sqlite=backend(), postgresql=backend()))
        targets = list(dict.fromkeys(row.target for row in rows))
        assert targets == [
            "bundle first sync ≤ 4× (parse_hash + load)",
            "bundle no-op resync ≤ 2× parse_hash",
            "bundle 1% change ≤ 1.2× bundle no-op",
            "REST first sync ≤ 4× (rest_decode_hash + load)",
            "REST no-op resync ≤ 2× rest_decode_hash",
            "REST first sync, 50 ms a request ≤ 1.5× (pages × 50 ms ÷ 4 + rest_decode_hash + load)",
            "bundle peak memory < 1 GB",
            "REST peak memory < 1 GB",
            "`make bench` (10,000 students) < 120 s",
        ]
        # Backends in a fixed order whatever order they were measured in.
        assert [row.backend for row in rows[:2]] == ["postgresql", "sqlite"]
        assert len(rows) == 8 * 2 + 1

    def test_peak_memory_is_the_largest_of_the_paths_syncs(self) -> None:
        rows = {(r.target, r.backend): r for r in judged(results_of(sqlite=backend()))}
        bundle = rows["bundle peak memory < 1 GB", "sqlite"]
        assert (bundle.measured, bundle.met) == ("300 MB", True)
        rest = rows["REST peak memory < 1 GB", "sqlite"]
        assert (rest.measured, rest.met) == ("1100 MB", False)

    def test_a_run_without_rest_marks_its_targets_not_measured(self) -> None:
        rows = judged(results_of(sqlite=backend(rest=False)))
        rest = [row for row in rows if row.target.startswith("REST")]
        assert len(rest) == 4
        assert {(row.measured, row.met, row.verdict) for row in rest} == {
            ("", None, "not measured")
        }

    def test_the_whole_run_is_judged_only_at_make_benchs_size(self) -> None:
        quick = judged(results_of(sqlite=backend()))[-1]
        assert (quick.measured, quick.met) == ("95.0 s (80.0 s CPU)", True)
        slow = judged({**results_of(sqlite=backend()), "wall_seconds": 130.0})[-1]
        assert slow.met is False
        bigger = judged({**results_of(sqlite=backend()), "students": 100_000})
        assert not any("make bench" in row.target for row in bigger)


class TestReadme:
    """The README's table is printed from a results file, ratios, verdicts, command and commit."""

    def test_one_row_per_target_and_backend_with_ratio_and_verdict(self) -> None:
        table = readme(results_of(sqlite=backend(), postgresql=backend()), "r.json").splitlines()
        assert table[0] == (
            "| target (issue 17, set for 1,000,000 students) | PostgreSQL | SQLite |"
        )
        assert (
            "| REST first sync ≤ 4× (rest_decode_hash + load) | 3.00× (10.50 ÷ 3.50 s), met | "
            "3.00× (10.50 ÷ 3.50 s), met |" in table
        )
        assert (
            "| bundle no-op resync ≤ 2× parse_hash | 3.00× (3.00 ÷ 1.00 s), not met | "
            "3.00× (3.00 ÷ 1.00 s), not met |" in table
        )
        assert "| REST peak memory < 1 GB | 1100 MB, not met | 1100 MB, not met |" in table
        assert "| `make bench` (10,000 students) < 120 s | 95.0 s (80.0 s CPU), met | |" in table
        # A header, its rule, then one row per target.
        assert len([line for line in table if line.startswith("|")]) == 2 + 8 + 1

    def test_it_ends_with_the_command_the_commit_and_the_results_file(self) -> None:
        last = readme(results_of(sqlite=backend()), "20261207T220738Z-10000.json").splitlines()[-1]
        assert last == (
            "10,000 students, `python -m bench.sync_bench --students 10000 --bundles var/bench` "
            "at commit `abc1234`; x86_64, 2 cores, Python 3.11.7; load average 1.5 at the start, "
            "2.2 at the end; results `20261207T220738Z-10000.json`."
        )

    def test_uncommitted_changes_are_said_with_how_many_files(self) -> None:
        changed = ["src/rostersync/sync/enrollments.py", "bench/report.py"]
        results = {**results_of(sqlite=backend()), "uncommitted_changes": changed}
        assert "at commit `abc1234` plus uncommitted changes to 2 files;" in readme(results)

    def test_not_measured_targets_show_a_dash(self) -> None:
        table = readme(results_of(sqlite=backend(rest=False)))
        assert "| REST no-op resync ≤ 2× rest_decode_hash | not measured |" in table

    def test_the_command_line_prints_it_from_a_results_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "20261207T220738Z-10000.json"
        results = results_of(sqlite=backend(), postgresql=backend())
        path.write_text(json.dumps(results, sort_keys=True))
        assert main([str(path), "--readme"]) == 0
        assert capsys.readouterr().out == readme(results, path.name) + "\n"
