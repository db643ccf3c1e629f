"""The long fuzz run: 100,000 cases per target, counting cases and crashes (the target is 0).

    .venv/bin/python -m bench.fuzz                          # every target, 100,000 cases each
    .venv/bin/python -m bench.fuzz --cases 5000 --target bundle --target mapping

Targets and their promises are in `bench.fuzz.targets` (CI runs the same checks, 200 cases
each). Each target is run by Hypothesis with shrinking off and every case's failure caught and
recorded rather than stopping the run, so one crash does not hide the next. A crash is kept once
per kind (exception type and the innermost rostersync line), with the first input that caused it.
The callback target starts a sign-in world (the ClassLink simulators and the portal on loopback,
SQLite in a temporary directory) and sends every case over real HTTP.

Results go to `bench/results/fuzz-<timestamp>.json` (git-ignored) and a summary to stdout; the
exit status is 1 when any target crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench.fuzz import targets

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
TARGETS = ("bundle", "mapping", "callback")


@dataclass
class Tally:
    """What one target's run found."""

    cases: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    crashes: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def record(self, check: Callable[[], str], case: Any) -> None:
        self.cases += 1
        try:
            outcome = check()
        except Exception as exc:  # a crash is what this run looks for
            key = _crash_key(exc)
            found = self.crashes.setdefault(
                key,
                {
                    "count": 0,
                    "where": key,
                    "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                    "input": targets.describe(case),
                },
            )
            found["count"] += 1
            outcome = "crash"
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "crashes": sum(c["count"] for c in self.crashes.values()),
            "distinct_crashes": list(self.crashes.values()),
            "outcomes": self.outcomes,
            "seconds": round(self.seconds, 1),
        }


def _crash_key(exc: BaseException) -> str:
    """The exception type and the innermost line of rostersync (or bench) it came through."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/rostersync/" in f.filename or "/bench/" in f.filename]
    where = f"{ours[-1].filename.rsplit('/', 1)[-1]}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__}@{where}"


def _run(strategy: st.SearchStrategy[Any], check: Callable[[Any], str], cases: int) -> Tally:
    tally = Tally()

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        tally.record(lambda: check(case), case)

    started = time.perf_counter()
    run()
    tally.seconds = time.perf_counter() - started
    return tally


@contextlib.contextmanager
def _portal() -> Iterator[Any]:
    """A sign-in world on loopback (one small district), as the callback tests build it."""
    from cryptography.fernet import Fernet

    from rostersync.config import Settings
    from rostersync.demo.sandbox import Sandbox, SandboxDistrict
    from rostersync.simulator import generate_district

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/fuzz.db",
            secret_keys=Fernet.generate_key().decode(),
            log_format="json",
            log_level="ERROR",
        )
        district = SandboxDistrict(
            slug="springfield",
            tenant_id="1001",
            display_name="Springfield USD – Springfield, IL",
            data=generate_district(students=10, seed=3, tenant="springfield"),
        )
        with Sandbox(settings, [district]) as sandbox:
            yield sandbox


def fuzz_callback(cases: int) -> Tally:
    with (
        _portal() as world,
        httpx.Client(base_url=world.url, timeout=10) as fresh,
        httpx.Client(base_url=world.url, timeout=10) as started,
    ):
        district = world.district_ids["springfield"]

        def check(case: tuple[bool, bool, list[tuple[str, str]]]) -> str:
            bound, with_state, params = case
            client = started if bound else fresh
            # A started sign-in's state is used up by its first callback: start one each time.
            state = targets.start_sign_in(started, district) if bound else "unknown"
            extra = [("state", state)] if with_state else []
            return targets.check_callback(client, extra + params)

        return _run(
            st.tuples(st.booleans(), st.booleans(), targets.callback_queries()), check, cases
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000, help="cases per target")
    parser.add_argument(
        "--target", action="append", choices=TARGETS, help="run only these (repeatable)"
    )
    args = parser.parse_args(argv)
    chosen = args.target or list(TARGETS)
    results: dict[str, Any] = {
        "started": f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        "cases_per_target": args.cases,
        "targets": {},
    }
    for name in chosen:
        if name == "bundle":
            tally = _run(
                st.tuples(targets.bundles(), targets.LIMITS),
                lambda c: targets.check_bundle(*c),
                args.cases,
            )
        elif name == "mapping":
            tally = _run(targets.mapper_inputs(), lambda c: targets.check_mapping(*c), args.cases)
        else:
            tally = fuzz_callback(args.cases)
        results["targets"][name] = tally.summary()
        summary = results["targets"][name]
        print(
            f"{name}: {summary['cases']} cases, {summary['crashes']} crashes "
            f"({len(summary['distinct_crashes'])} distinct) in {summary['seconds']} s "
            f"{summary['outcomes']}",
            flush=True,
        )
        for crash in summary["distinct_crashes"]:
            print(f"  {crash['count']}× {crash['where']} {crash['error']}")
            print(f"    input: {crash['input']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"fuzz-{results['started']}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"results: {path}")
    crashed = any(t["crashes"] for t in results["targets"].values())
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
