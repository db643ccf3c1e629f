"""A district's sync lock that follows the life of the process holding it.

One sync per district at a time, whichever process or machine asks, and a run killed with
`kill -9` never keeps its district locked (docs/decisions/0020):

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`, keyed by the district id)
  held on a connection of its own for the whole run. The server releases it when that
  connection ends, however the process ended.
- SQLite (one host): the lock row names its holder's host and pid and carries a heartbeat that a
  background thread refreshes every `HEARTBEAT_SECONDS`. A row whose holder is dead (its pid is
  gone on this host, or its heartbeat is older than `STALE_AFTER` on another host) is taken over.

The `sync_locks` row exists on both: it names the run holding the lock (the run page and a
refused caller read it). Taking over a dead holder's lock marks its run `abandoned`, with the
phase it had reached; nothing it pulled was written (a run writes in one transaction).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from rostersync.errors import SyncInProgress
from rostersync.store import runs as store_runs
from rostersync.store.db import SYNC_WRITER_WAIT_SECONDS, for_writing
from rostersync.store.progress_tables import run_progress
from rostersync.store.tables import districts, sync_runs
from rostersync.store.workflow_tables import sync_locks

log = structlog.get_logger(__name__)

ABANDONED = "abandoned"
# A live SQLite holder refreshes its heartbeat this often (seconds).
HEARTBEAT_SECONDS = 2.0
# A holder on another host whose heartbeat is older than this is dead.
STALE_AFTER = timedelta(seconds=10)
# On the holder's own host a live pid keeps its lock even while its heartbeat waits behind
# another district's long write, unless that pid's process started after the lock was taken
# (pids are reused). Where a process's start is unknown, a heartbeat this old means reuse.
PID_REUSED_AFTER = timedelta(minutes=10)
# Kept on every row for older releases, which judge a lock by its expiry alone.
LEGACY_TTL = timedelta(hours=6)
# Recording a run's end or releasing its lock is retried this long while the database is away.
RECORD_FOR_SECONDS = 120.0
# What a database that went away (or a file that cannot be written) raises.
UNAVAILABLE = (OperationalError, InterfaceError)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock: this host and process, and how a refused caller reads it."""

    host: str
    pid: int

    @property
    def label(self) -> str:
        return f"{self.host} pid {self.pid}"

    @classmethod
    def this_process(cls) -> Holder:
        return cls(host=socket.gethostname(), pid=os.getpid())


def advisory_key(district_id: str) -> int:
    """The district's PostgreSQL advisory lock key: 64 bits of a hash of its id."""
    digest = hashlib.sha256(f"rostersync.sync:{district_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie, killed but not yet reaped by
    its parent, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def process_started(pid: int) -> datetime | None:
    """When the process with this pid started (Linux `/proc`), or None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)


def holder_dead(row: Any, *, now: datetime, here: Holder) -> bool:
    """Whether the holder of a `sync_locks` row (on SQLite) is gone, so the lock may be taken.

    Rows of older releases (no heartbeat) and of a purge keep their expiry.
    """
    if row.heartbeat_at is None or row.pid is None:
        expired: bool = row.expires_at < now
        return expired
    age: timedelta = now - row.heartbeat_at
    if row.host == here.host:
        if not pid_alive(row.pid):
            return True
        started = process_started(row.pid)
        if started is None:
            return age > PID_REUSED_AFTER
        # Another process has the pid now: it started after the lock was taken (a second's
        # slack for the clocks' rounding).
        reused: bool = started > row.acquired_at + timedelta(seconds=1)
        return reused
    return age > STALE_AFTER


def retry_for(seconds: float, what: str, action: Any) -> Any:
    """Call `action()` until it succeeds, backing off, while the database is unreachable.

    Raises:
        OperationalError: The last failure, once `seconds` have passed (or `InterfaceError`).
    """
    deadline = time.monotonic() + seconds
    delay = 0.2
    while True:
        try:
            return action()
        except UNAVAILABLE as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("db.retrying", what=what, error_type=type(exc).__name__)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class DistrictLock:
    """The sync lock of one district, taken for one run by this process.

    Args:
        engine: The portal database.
        district_id: The district.
        holder: Who holds it (this process by default).
        record_for: Seconds to keep trying to release the lock while the database is away.
    """

    def __init__(
        self,
        engine: Engine,
        district_id: str,
        *,
        holder: Holder | None = None,
        record_for: float = RECORD_FOR_SECONDS,
    ) -> None:
        self.engine = engine
        self.district_id = district_id
        self.holder = holder or Holder.this_process()
        self.record_for = record_for
        self.run_id: str | None = None
        self.postgres = engine.dialect.name == "postgresql"
        self._writer = for_writing(engine, wait_seconds=SYNC_WRITER_WAIT_SECONDS)
        self._session: Connection | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # Taking ------------------------------------------------------------------------------------
    def acquire(self, *, trigger: str, mode: str) -> str:
        """Take the lock and record a new run holding it (status "running"), together.

        A lock whose holder died is taken over and its run marked `abandoned`.

        Returns:
            The new run's id.

        Raises:
            SyncInProgress: A live holder has the lock; no run is recorded.
        """
        if self.postgres:
            self._take_advisory()
        try:
            with self._writer.begin() as conn:
                now = datetime.now(UTC)
                run_id = store_runs.create_run(
                    conn, district_id=self.district_id, trigger=trigger, mode=mode, now=now
                )
                self._take_row(conn, run_id, now)
        except BaseException:
            self._drop_advisory()
            raise
        self.run_id = run_id
        if not self.postgres:
            self._beat = threading.Thread(
                target=self._heartbeat, name=f"lock {self.district_id}", daemon=True
            )
            self._beat.start()
        return run_id

    def _take_advisory(self) -> None:
        session = self.engine.connect()
        try:
            got = session.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self.district_id)}
            ).scalar_one()
            session.commit()
        except BaseException:
            session.invalidate()
            session.close()
            raise
        if not got:
            session.close()
            with self.engine.connect() as conn:
                raise SyncInProgress(self._busy_message(conn))
        self._session = session

    def _take_row(self, conn: Connection, run_id: str, now: datetime) -> None:
        values = {
            "run_id": run_id,
            "holder": self.holder.label,
            "acquired_at": now,
            "expires_at": now + LEGACY_TTL,
            "host": self.holder.host,
            "pid": self.holder.pid,
            "heartbeat_at": now,
        }
        _claim_row(conn, self.district_id, values, now=now, here=self.holder)

    def _busy_message(self, conn: Connection) -> str:
        return _busy_message(conn, self.district_id)

    # Holding -----------------------------------------------------------------------------------
    def confirm(self, conn: Connection, *, now: datetime) -> None:
        """Check, in the transaction about to write, that this run still holds the lock.

        The row is updated in that transaction, so a taker waits until it commits.

        Raises:
            SyncInProgress: The lock was lost; nothing may be written.
        """
        lost = (
            f"run {self.run_id} lost its lock on the district and another sync may have taken "
            "over; nothing was written"
        )
        if self._session is not None:
            try:
                self._session.execute(text("SELECT 1"))
                self._session.rollback()
            except SQLAlchemyError as exc:
                raise SyncInProgress(lost) from exc
        result = conn.execute(
            update(sync_locks)
            .where(sync_locks.c.district_id == self.district_id, sync_locks.c.run_id == self.run_id)
            .values(heartbeat_at=now, expires_at=now + LEGACY_TTL)
        )
        if result.rowcount != 1:
            raise SyncInProgress(lost)

    def _heartbeat(self) -> None:
        beat = for_writing(self.engine, wait_seconds=HEARTBEAT_SECONDS)
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with beat.begin() as conn:
                    result = conn.execute(
                        update(sync_locks)
                        .where(
                            sync_locks.c.district_id == self.district_id,
                            sync_locks.c.run_id == self.run_id,
                        )
                        .values(heartbeat_at=datetime.now(UTC))
                    )
            except SQLAlchemyError as exc:
                # Another writer (this run's own apply, or another district's) holds the file;
                # the pid shows this process alive meanwhile.
                log.debug("lock.heartbeat_late", error_type=type(exc).__name__)
                continue
            if result.rowcount != 1:
                log.warning("lock.lost", district_id=self.district_id, run_id=self.run_id)
                return

    # Letting go --------------------------------------------------------------------------------
    def release(self) -> None:
        """Let the lock go. Never raises: a run's outcome is recorded before, and a lock this
        process could not delete is dead once the process is (and on PostgreSQL at once)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=HEARTBEAT_SECONDS * 2)
        if self.run_id is not None:
            try:
                retry_for(self.record_for, "release the sync lock", self._delete_row)
            except SQLAlchemyError as exc:
                log.error(
                    "lock.not_released",
                    district_id=self.district_id,
                    run_id=self.run_id,
                    error_type=type(exc).__name__,
                )
        self._drop_advisory()

    def _delete_row(self) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                sync_locks.delete().where(
                    sync_locks.c.district_id == self.district_id,
                    sync_locks.c.run_id == self.run_id,
                )
            )

    def _drop_advisory(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            session.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self.district_id)}
            )
            session.commit()
        except SQLAlchemyError:
            # The connection is gone, and the server released the lock with it; never pool it.
            session.invalidate()
        finally:
            session.close()


def abandon_run(conn: Connection, run_id: str, *, now: datetime) -> bool:
    """Mark a run whose holder died `abandoned`, naming the phase it had reached.

    Returns:
        False when the run is not `running` (it ended, or it is not a run at all).
    """
    phase = conn.execute(
        select(run_progress.c.phase).where(run_progress.c.run_id == run_id)
    ).scalar_one_or_none()
    where = f"while {phase}" if phase and phase != "done" else "before it finished"
    result = conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id, sync_runs.c.status == "running")
        .values(
            status=ABANDONED,
            finished_at=now,
            error=(
                f"the process running this sync stopped {where}; nothing it pulled was "
                "written, and the district was freed for the next sync"
            ),
        )
    )
    return result.rowcount == 1


def take_for_transaction(
    conn: Connection,
    *,
    district_id: str,
    run_id: str,
    holder: str,
    now: datetime,
    ttl: timedelta,
) -> None:
    """Hold the district's lock for the rest of `conn`'s transaction (a district purge).

    On PostgreSQL a transaction-level advisory lock (`pg_try_advisory_xact_lock`) keeps syncs
    out until the transaction ends; on both, the lock row is taken as a sync takes it, so a dead
    sync's lock never stands in the way.

    Raises:
        SyncInProgress: A live sync holds the district.
    """
    if conn.dialect.name == "postgresql":
        key = advisory_key(district_id)
        got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
        if not got.scalar_one():
            raise SyncInProgress(_busy_message(conn, district_id))
    values = {
        "run_id": run_id,
        "holder": holder,
        "acquired_at": now,
        "expires_at": now + ttl,
    }
    _claim_row(conn, district_id, values, now=now, here=Holder.this_process())


def _claim_row(
    conn: Connection, district_id: str, values: dict[str, Any], *, now: datetime, here: Holder
) -> None:
    """Insert the district's lock row, or take over one whose holder is gone.

    The caller holds the PostgreSQL advisory lock already, so there a row naming a process is
    a dead holder's.

    Raises:
        SyncInProgress: A live holder has the lock.
    """
    try:
        with conn.begin_nested():
            conn.execute(insert(sync_locks).values(district_id=district_id, **values))
        return
    except IntegrityError:
        pass
    row = conn.execute(
        select(sync_locks, sync_runs.c.status)
        .outerjoin(sync_runs, sync_runs.c.id == sync_locks.c.run_id)
        .where(sync_locks.c.district_id == district_id)
    ).first()
    if row is None or not _holder_gone(conn, row, now=now, here=here):
        raise SyncInProgress(_busy_message(conn, district_id))
    taken = conn.execute(
        update(sync_locks)
        .where(sync_locks.c.district_id == district_id, sync_locks.c.run_id == row.run_id)
        .values(**values)
    )
    if taken.rowcount != 1:
        raise SyncInProgress(_busy_message(conn, district_id))
    abandon_run(conn, row.run_id, now=now)
    log.warning(
        "lock.taken_over",
        district_id=district_id,
        run_id=values["run_id"],
        abandoned_run_id=row.run_id,
    )


def _holder_gone(conn: Connection, row: Any, *, now: datetime, here: Holder) -> bool:
    if row.status is not None and row.status != "running":
        return True  # the run ended; only its release was lost
    if conn.dialect.name == "postgresql" and row.pid is not None:
        return True  # the caller holds the advisory lock, so the row's holder has let go
    return holder_dead(row, now=now, here=here)


def _busy_message(conn: Connection, district_id: str) -> str:
    row = conn.execute(
        select(sync_locks.c.run_id, sync_locks.c.acquired_at, districts.c.slug)
        .join(districts, districts.c.id == sync_locks.c.district_id)
        .where(sync_locks.c.district_id == district_id)
    ).first()
    if row is None:
        return (
            f"a sync of district {district_id} is starting or has just finished; "
            "try again in a moment"
        )
    return (
        f"a sync of {row.slug} is already running (run {row.run_id}, started "
        f"{row.acquired_at:%Y-%m-%d %H:%M} UTC); wait for it to finish"
    )
