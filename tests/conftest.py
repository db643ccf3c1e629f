"""Fixtures every test shares, and how pytest-xdist shares the tests out.

Under `--dist loadgroup` (pyproject.toml) each test file goes to one worker whole, so its
module-scoped worlds are built once. The files in `SERIAL` (the browser tests, and those that
run real processes, kill them and time their restart) form one group, so they run one at a time
on the same worker while the other worker takes the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

SERIAL = (
    "tests/browser/",
    "tests/integration/jobs/test_two_workers_redis.py",
    "tests/integration/reliability/test_crash_restart.py",
    "tests/integration/reliability/test_crash_restart_worker.py",
    "tests/integration/reliability/test_database_lost.py",
    "tests/integration/reliability/test_two_districts_sqlite.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test without an `xdist_group` mark its file's group, or the serial one."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        path = item.nodeid.split("::")[0]
        group = "serial" if path.startswith(SERIAL) else path
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts from structlog's defaults: logging set-up is process-global state."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
