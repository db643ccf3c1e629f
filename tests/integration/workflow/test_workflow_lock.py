"""One sync per district at a time, enforced by a lock row in the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from tests.integration.workflow.conftest import KEY, SECRET, onboard

from rostersync.domain.records import Record
from rostersync.errors import SyncInProgress
from rostersync.services import Services
from rostersync.simulator import SimulatorServer
from rostersync.store import locks, tables
from rostersync.store import workflow as store_workflow
from rostersync.store.districts import DistrictRecord
from rostersync.store.runs import create_run
from rostersync.store.workflow_tables import sync_locks
from rostersync.sync.sources import OneRosterRestSource, Progress, PullStats

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=6)


class GatedSource:
    """The district's real source, paused after its first record until the test opens the gate."""

    def __init__(self, inner: OneRosterRestSource) -> None:
        self.inner = inner
        self.stats: PullStats = inner.stats
        self.pulling = threading.Event()
        self.gate = threading.Event()

    def records(self, progress: Progress | None = None) -> Iterator[Record]:
        for n, record in enumerate(self.inner.records(progress)):
            if n == 1:
                self.pulling.set()
                assert self.gate.wait(30), "the test never opened the gate"
            yield record

    def complete_kinds(self) -> set:  # type: ignore[type-arg]
        return self.inner.complete_kinds()


class TestLockRows:
    """The lock is an INSERT: a second taker is refused until release or expiry."""

    def test_a_second_taker_is_refused_with_the_holding_run(
        self, conn: Connection, district: DistrictRecord, run_id: str
    ) -> None:
        other = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
        locks.take_for_transaction(
            conn, district_id=district.id, run_id=run_id, holder="a", now=NOW, ttl=TTL
        )
        with pytest.raises(SyncInProgress, match=rf"springfield is already running \(run {run_id}"):
            locks.take_for_transaction(
                conn, district_id=district.id, run_id=other, holder="b", now=NOW, ttl=TTL
            )
        store_workflow.release_lock(conn, district_id=district.id, run_id=run_id)
        locks.take_for_transaction(
            conn, district_id=district.id, run_id=other, holder="b", now=NOW, ttl=TTL
        )

    def test_an_expired_lock_is_taken_over_and_its_old_holder_may_not_write(
        self, conn: Connection, district: DistrictRecord, run_id: str
    ) -> None:
        other = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
        locks.take_for_transaction(
            conn, district_id=district.id, run_id=run_id, holder="a", now=NOW, ttl=TTL
        )
        later = NOW + TTL + timedelta(seconds=1)
        locks.take_for_transaction(
            conn, district_id=district.id, run_id=other, holder="b", now=later, ttl=TTL
        )
        status = select(tables.sync_runs.c.status).where(tables.sync_runs.c.id == run_id)
        assert conn.execute(status).scalar_one() == locks.ABANDONED
        # The old holder's lock, checked as a run checks it just before writing.
        old = locks.DistrictLock(conn.engine, district.id)
        old.run_id = run_id
        with pytest.raises(
            SyncInProgress, match=rf"run {run_id} lost its lock.*nothing was written"
        ):
            old.confirm(conn, now=later)


class TestConcurrentSyncs:
    """A sync started while another runs is refused, records nothing, and the first finishes."""

    def test_second_sync_of_the_same_district_raises_sync_in_progress(
        self, portal: Services, server: SimulatorServer
    ) -> None:
        onboard(portal, server)
        gated = GatedSource(OneRosterRestSource(server.base_url("springfield"), KEY, SECRET))
        outcome: dict[str, object] = {}

        def first() -> None:
            outcome["report"] = portal.runs.sync("springfield", source=gated)

        thread = threading.Thread(target=first)
        thread.start()
        try:
            assert gated.pulling.wait(30)
            with pytest.raises(SyncInProgress, match="wait for it to finish"):
                portal.runs.sync("springfield")
            with pytest.raises(SyncInProgress):
                portal.runs.preview("springfield")
        finally:
            gated.gate.set()
            thread.join(60)
        report = outcome["report"]
        assert report.status == "succeeded"  # type: ignore[attr-defined]
        assert [r.id for r in portal.runs.recent("springfield")] == [report.run_id]  # type: ignore[attr-defined]
        with portal.engine.connect() as conn:
            locks = conn.execute(select(func.count()).select_from(sync_locks))
            assert locks.scalar() == 0
            students = conn.execute(select(func.count()).select_from(tables.students)).scalar()
        assert students == report.counts["student"]["created"]  # type: ignore[attr-defined]
        # The lock is gone with the run: the next sync goes ahead.
        assert portal.runs.sync("springfield").status == "succeeded"
