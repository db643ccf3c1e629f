"""With PROMETHEUS_MULTIPROC_DIR set (a portal served by several processes, decision 0034), the
metrics page adds up what every process counted: two processes each count a run, a third reads
both. Each is a real interpreter, as prometheus-client picks its way of counting at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COUNT = "from rostersync import metrics; metrics.run_ended('succeeded', {seconds})"
READ = (
    "import sys; from rostersync import metrics; sys.stdout.write(metrics.exposition()[0].decode())"
)


def python(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_page_adds_up_every_process_counts(tmp_path: Path) -> None:
    python(COUNT.format(seconds=2.0), tmp_path)
    python(COUNT.format(seconds=3.0), tmp_path)
    page = python(READ, tmp_path)
    assert 'rostersync_runs_total{status="succeeded"} 2.0' in page
    assert 'rostersync_run_seconds_sum{status="succeeded"} 5.0' in page
    assert "process_cpu_seconds_total" in page  # the answering process's own


def test_without_the_directory_the_page_is_this_process_alone() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    code = f"{COUNT.format(seconds=1.0)}; {READ}"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert 'rostersync_runs_total{status="succeeded"} 1.0' in done.stdout
