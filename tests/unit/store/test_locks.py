"""When a SQLite lock's holder counts as gone, and the PostgreSQL advisory key (`store.locks`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from rostersync.store.locks import (
    STALE_AFTER,
    Holder,
    advisory_key,
    holder_dead,
    pid_alive,
    process_started,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HERE = Holder(host="portal-1", pid=os.getpid())


def _row(**values: object) -> SimpleNamespace:
    base: dict[str, object] = {
        "host": HERE.host,
        "pid": os.getpid(),
        "heartbeat_at": NOW,
        "acquired_at": datetime.now(UTC),  # after this process started
        "expires_at": NOW + timedelta(hours=6),
    }
    return SimpleNamespace(**{**base, **values})


def _reaped_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class TestPidAlive:
    def test_this_process_is_alive_and_a_reaped_child_is_not(self) -> None:
        assert pid_alive(os.getpid())
        assert not pid_alive(_reaped_pid())

    def test_a_killed_child_its_parent_has_not_reaped_yet_is_dead(self) -> None:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            os.kill(child.pid, signal.SIGKILL)
            stat = Path(f"/proc/{child.pid}/stat")
            deadline = time.monotonic() + 10
            while "Z" not in stat.read_text().rpartition(")")[2].split()[:1]:
                assert time.monotonic() < deadline, "the child never became a zombie"
                time.sleep(0.01)
            assert not pid_alive(child.pid)
        finally:
            child.wait()


class TestHolderDead:
    def test_a_live_pid_on_this_host_keeps_its_lock_while_its_heartbeat_is_late(self) -> None:
        late = NOW - STALE_AFTER * 6
        assert not holder_dead(_row(heartbeat_at=late), now=NOW, here=HERE)

    def test_a_dead_pid_on_this_host_has_let_go_at_once(self) -> None:
        assert holder_dead(_row(pid=_reaped_pid()), now=NOW, here=HERE)

    def test_a_live_pid_whose_process_started_after_the_lock_was_taken_is_someone_else(
        self,
    ) -> None:
        started = process_started(os.getpid())
        assert started is not None and started <= datetime.now(UTC)
        before = started - timedelta(minutes=1)
        assert holder_dead(_row(acquired_at=before), now=NOW, here=HERE)
        assert not holder_dead(_row(acquired_at=started), now=NOW, here=HERE)

    def test_on_another_host_only_the_heartbeat_counts(self) -> None:
        fresh = _row(host="portal-2", pid=1, heartbeat_at=NOW - STALE_AFTER / 2)
        stale = _row(host="portal-2", pid=1, heartbeat_at=NOW - STALE_AFTER * 2)
        assert not holder_dead(fresh, now=NOW, here=HERE)
        assert holder_dead(stale, now=NOW, here=HERE)

    def test_a_row_without_a_heartbeat_keeps_its_expiry(self) -> None:
        unexpired = _row(heartbeat_at=None, pid=None, host=None)
        expired = _row(heartbeat_at=None, pid=None, host=None, expires_at=NOW - timedelta(1))
        assert not holder_dead(unexpired, now=NOW, here=HERE)
        assert holder_dead(expired, now=NOW, here=HERE)


def test_the_advisory_key_is_a_stable_signed_64_bit_hash_of_the_district() -> None:
    key = advisory_key("d7c1a9e2-0000-4000-8000-000000000001")
    assert key == advisory_key("d7c1a9e2-0000-4000-8000-000000000001")
    assert key != advisory_key("d7c1a9e2-0000-4000-8000-000000000002")
    assert -(2**63) <= key < 2**63
