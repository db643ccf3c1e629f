"""Real sync processes for the crash-restart tests: start them, find them in a phase, kill them.

A sync is a real `rostersync` CLI process (or a `python -m rostersync.jobs.worker` process)
against the test's portal database and a simulator on loopback. `ROSTERSYNC_PAUSE_AT` makes it
wait in the named phase (`rostersync.sync.pausepoints`) and create a marker file there, so a
test kills it in exactly that phase, after the phase is recorded, without timing anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select

from rostersync.config import Settings
from rostersync.domain.records import EntityKind
from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, SimulatorServer
from rostersync.store.progress_tables import run_progress
from rostersync.store.tables import ROSTER_TABLES, sync_runs
from rostersync.store.workflow_tables import sync_locks
from rostersync.sync.pausepoints import PAUSE_AT

CLI = Path(sys.executable).with_name("rostersync")
KEY, SECRET = "crash-key", "crash-secret-7Hq"
PHASES = ("pulling", "validating", "planning", "writing")
# The target: after a kill, the next sync of the district starts within this.
RESTART_WITHIN_SECONDS = 30.0

Snapshot = dict[str, list[tuple[str | None, str | None, bool]]]


def wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@dataclass
class CrashWorld:
    """A portal database with one onboarded district, and how to start processes on it."""

    portal: Services
    values: dict[str, Any]
    directory: Path
    slug: str
    district_id: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def engine(self) -> Any:
        return self.portal.engine

    def env(self, pause: str | None = None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")}
        env.update({f"ROSTERSYNC_{k.upper()}": str(v) for k, v in self.values.items()})
        env.update(extra)
        if pause is not None:
            env[PAUSE_AT] = f"{pause}:{self.marker(pause)}"
        return env

    def marker(self, phase: str) -> Path:
        return self.directory / f"paused-at-{phase}"

    def start(
        self, args: list[str], *, pause: str | None = None, name: str = "sync", **extra: str
    ) -> subprocess.Popen[bytes]:
        """Start `rostersync <args>` (or a worker when args[0] == "worker")."""
        command = (
            [sys.executable, "-m", "rostersync.jobs.worker", *args[1:]]
            if args[0] == "worker"
            else [str(CLI), *args]
        )
        with (
            (self.directory / f"{name}.out").open("wb") as out,
            (self.directory / f"{name}.err").open("wb") as err,
        ):
            proc = subprocess.Popen(
                command, env=self.env(pause, **extra), cwd=self.directory, stdout=out, stderr=err
            )
        self.processes.append(proc)
        return proc

    def output(self, name: str = "sync") -> tuple[str, str]:
        return (
            (self.directory / f"{name}.out").read_text(),
            (self.directory / f"{name}.err").read_text(),
        )

    def paused(self, proc: subprocess.Popen[bytes], phase: str) -> None:
        """Wait until `proc` waits at `phase` (its marker file) with that phase recorded.

        On SQLite the run writes its plan holding the file's one writer, so while it waits at
        `writing` the last phase it could record is `planning`.
        """
        marker = self.marker(phase)

        def there() -> bool:
            assert proc.poll() is None, f"the sync ended before {phase}: {self.output()}"
            return marker.exists()

        wait_for(there, seconds=60, what=f"the sync to reach {phase}")
        expected = {phase}
        if phase == "writing" and self.engine.dialect.name == "sqlite":  # one write transaction
            expected.add("planning")
        wait_for(
            lambda: self.recorded_phase() in expected,
            seconds=30,
            what=f"{phase} to be recorded",
        )

    def recorded_phase(self) -> str | None:
        with self.engine.connect() as conn:
            run_id = self.running_run()
            if run_id is None:
                return None
            phase: str | None = conn.execute(
                select(run_progress.c.phase).where(run_progress.c.run_id == run_id)
            ).scalar_one_or_none()
            return phase

    def running_run(self) -> str | None:
        with self.engine.connect() as conn:
            run_id: str | None = conn.execute(
                select(sync_runs.c.id).where(
                    sync_runs.c.district_id == self.district_id, sync_runs.c.status == "running"
                )
            ).scalar_one_or_none()
            return run_id

    def runs(self) -> list[tuple[str, str, str | None]]:
        """(id, status, error) of the district's runs, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(sync_runs.c.id, sync_runs.c.status, sync_runs.c.error)
                .where(sync_runs.c.district_id == self.district_id)
                .order_by(sync_runs.c.started_at, sync_runs.c.id)
            ).all()
        return [(r.id, r.status, r.error) for r in rows]

    def lock_row(self) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(sync_locks).where(sync_locks.c.district_id == self.district_id)
            ).first()

    def snapshot(self) -> Snapshot:
        return snapshot(self.portal, self.district_id)

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL, and reap it (a zombie would still look alive to the lock's pid check)."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def snapshot(portal: Services, district_id: str) -> Snapshot:
    """Every roster row of the district as (sourcedId, content hash, active), sorted: two syncs
    of the same roster reach the same snapshot, whatever portal ids they made."""
    result: Snapshot = {}
    with portal.engine.connect() as conn:
        for kind in EntityKind:
            table = ROSTER_TABLES[kind]
            rows = conn.execute(
                select(table.c.sourced_id, table.c.content_hash, table.c.active).where(
                    table.c.district_id == district_id
                )
            ).all()
            result[kind.value] = sorted(
                ((r.sourced_id, r.content_hash, bool(r.active)) for r in rows),
                key=lambda t: (t[0] or "", t[1] or ""),
            )
    return result


def make_world(
    url: str, directory: Path, server: SimulatorServer, tenant: str, **values: Any
) -> CrashWorld:
    """A migrated portal at `url` with the simulator's `tenant` onboarded under that slug."""
    directory.mkdir(parents=True, exist_ok=True)
    settings_values: dict[str, Any] = {
        "database_url": url,
        "secret_keys": Fernet.generate_key().decode(),
        "data_dir": str(directory / "var"),
        "log_format": "json",
        "log_level": "WARNING",
        "queue_backend": "sqlite",
        "queue_name": "crash",
        "job_lease_seconds": 2,
        "mail_backend": "outbox",
        "outbox_dir": str(directory / "outbox"),
        "stale_after_days": 36500,
        **values,
    }
    portal = Services(Settings(**settings_values))
    portal.init_db()
    onboard(portal, server, tenant)
    district = next(d for d in portal.districts.list_all() if d.slug == tenant)
    return CrashWorld(
        portal=portal,
        values=settings_values,
        directory=directory,
        slug=tenant,
        district_id=district.id,
    )


def onboard(portal: Services, server: SimulatorServer, tenant: str) -> None:
    portal.districts.add(
        Questionnaire(
            slug=tenant,
            name=f"District {tenant}",
            display_name=f"District {tenant} – Springfield, IL",
            city="Springfield",
            state="IL",
            source_url=server.base_url(tenant),
            key=KEY,
            secret=SECRET,
            data_manager_emails=[f"dm@{tenant}.example"],
            sync_frequency="weekdays",
            sync_time="06:00",
            time_zone="America/Chicago",
            eligibility_source="metadata",
            eligibility_field="eligibility",
        )
    )


def closing(world: CrashWorld) -> Iterator[CrashWorld]:
    try:
        yield world
    finally:
        world.stop_all()
        world.portal.close()


__all__ = ["DistrictData"]
