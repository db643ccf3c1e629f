"""Fixtures every test shares, and how pytest-xdist shares the tests out.

Under `--dist loadgroup` (pyproject.toml) each test file goes to one worker whole, so its
module-scoped worlds are built once and its tests run in order. The files in `SERIAL` (those that
run real processes, kill them and time their restart) form one group, so they run one at a time
on the same worker while the other workers take the rest.

Groups are handed out longest first, by the seconds each file took in a recent full run
(`tests/durations.json`, refreshed with `make test-durations`); a file not listed there is
guessed from its number of tests. Longest first keeps one long file from starting last and
leaving the other workers idle at the end. The order only schedules: every test runs either way.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

SERIAL = (
    "tests/integration/jobs/test_two_workers_redis.py",
    "tests/integration/reliability/test_crash_restart.py",
    "tests/integration/reliability/test_crash_restart_worker.py",
    "tests/integration/reliability/test_database_lost.py",
    "tests/integration/reliability/test_two_districts_sqlite.py",
)
# Staff passwords are hashed with argon2id at one pass over 1 MiB here instead of the default's
# three passes over 64 MiB (0.2 s of CPU a hash on this machine), in this process and in every
# process it starts: a run makes and signs in to staff accounts hundreds of times. The same code
# hashes and verifies either way; tests/unit/staff/test_password_costs.py checks the defaults.
for _name, _cost in (("TIME_COST", "1"), ("MEMORY_KIB", "1024"), ("PARALLELISM", "1")):
    os.environ.setdefault(f"ROSTERSYNC_PASSWORD_HASH_{_name}", _cost)

DURATIONS = Path(__file__).with_name("durations.json")
# A file missing from DURATIONS is guessed at this many seconds per test.
GUESS_PER_TEST = 0.5


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        help="write each test file's seconds (setup, call, teardown) to tests/durations.json",
    )


def _file_of(nodeid: str) -> str:
    return nodeid.split("::")[0]


def _group_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("xdist_group")
    if marker is not None:
        return str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))
    path = _file_of(item.nodeid)
    return "serial" if path.startswith(SERIAL) else path


def _known_seconds() -> dict[str, float]:
    try:
        seconds = json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in seconds.items()} if isinstance(seconds, dict) else {}


def pytest_itemcollected(item: pytest.Item) -> None:
    """Give every test without an `xdist_group` mark its file's group, or the serial one, as it
    is collected: xdist reads the marks in its own `pytest_collection_modifyitems`."""
    if item.get_closest_marker("xdist_group") is None:
        item.add_marker(pytest.mark.xdist_group(_group_of(item)))


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def _longest_groups_first(items: list[pytest.Item]) -> None:
    """Order the groups longest first (see the module's docstring). This runs after pytest's own
    reordering, so within a group the tests keep the order it gave them (by database backend)."""
    known = _known_seconds()
    groups: dict[str, list[pytest.Item]] = defaultdict(list)
    for item in items:
        groups[_group_of(item)].append(item)

    def expected(members: list[pytest.Item]) -> float:
        files = {_file_of(item.nodeid) for item in members}
        guessed = sum(GUESS_PER_TEST for item in members if _file_of(item.nodeid) not in known)
        return sum(known.get(path, 0.0) for path in files) + guessed

    ordered = sorted(groups.values(), key=expected, reverse=True)
    items[:] = [item for members in ordered for item in members]


class _DurationRecorder:
    """Adds up each test file's seconds from the reports (on the controller under xdist)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[_file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        rounded = {path: round(s, 1) for path, s in sorted(self.seconds.items())}
        DURATIONS.write_text(json.dumps(rounded, indent=1) + "\n", encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    is_worker = hasattr(config, "workerinput")
    if config.getoption("store_durations") and not is_worker:
        config.pluginmanager.register(_DurationRecorder(), "rostersync-durations")


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts from structlog's defaults: logging set-up is process-global state."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
