"""One scheduled sync slot, run by whichever worker claims it.

`run_slot` is the whole job without the queue: claim the slot (exactly one worker wins), keep
the claim's lease alive while the sync runs, run it through the service API, then retry,
finish, quarantine and notify. The Huey task in `queue.py` is a thin wrapper around it.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog

from rostersync.errors import DatabaseUnavailable, SyncInProgress
from rostersync.jobs.observe import RunOutcome
from rostersync.notify.notifier import Notifier
from rostersync.scheduling import quarantine_schedule
from rostersync.store import jobs as store_jobs
from rostersync.store import locks as store_locks

if TYPE_CHECKING:
    from rostersync.services import Services

log = structlog.get_logger(__name__)


class SlotOutcome(StrEnum):
    """What one attempt at a slot came to, for the queue."""

    DONE = "done"  # finished (whatever the run's status); nothing more to do
    RETRY = "retry"  # a retriable failure: put back to queued, retry after a backoff
    BUSY = "busy"  # another slot of the district is running: try again later
    DUPLICATE = "duplicate"  # claimed or finished elsewhere: drop this message
    # Another sync of the district holds its lock: the slot is queued again, marked
    # `waiting_for_lock`, and retried once the lock is free (that sync may predate the slot).
    WAITING_FOR_LOCK = "waiting_for_lock"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotResult:
    outcome: SlotOutcome
    run_id: str | None = None
    status: str | None = None


def worker_name() -> str:
    """host:pid:thread, so a claim names the exact worker that holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Heartbeat:
    """Renews a claim's lease every third of its length until stopped."""

    def __init__(
        self, service: Services, *, district_id: str, due_slot: datetime, worker: str
    ) -> None:
        self.service = service
        self.district_id = district_id
        self.due_slot = due_slot
        self.worker = worker
        self.lease = timedelta(seconds=service.settings.job_lease_seconds)
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="rostersync-lease", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                with self.service.engine.begin() as conn:
                    held = store_jobs.renew_lease(
                        conn,
                        district_id=self.district_id,
                        due_slot=self.due_slot,
                        worker=self.worker,
                        now=datetime.now(UTC),
                        lease=self.lease,
                    )
            except Exception as exc:  # a database blip: try again at the next beat
                log.warning("job.lease_renew_failed", error_type=type(exc).__name__)
                continue
            if not held:
                self.lost = True
                log.warning("job.lease_lost", district_id=self.district_id)
                return


def run_slot(
    service: Services,
    notifier: Notifier,
    *,
    district_id: str,
    due_slot: datetime,
    trigger: str = "scheduled",
    final_attempt: bool = True,
    worker: str | None = None,
) -> SlotResult:
    """Claim and run one due sync slot.

    Args:
        service: The service API (its engine holds the slots).
        notifier: Tells the district's data managers how the run ended.
        district_id: The district.
        due_slot: The scheduled instant the slot is for.
        trigger: Kept on the run ("scheduled").
        final_attempt: When False a retriable failure is put back for a retry instead of
            being reported.
        worker: Who claims it; this thread by default.

    Returns:
        What the attempt came to; `RETRY` asks the caller to try again after a backoff.
    """
    worker = worker or worker_name()
    lease = timedelta(seconds=service.settings.job_lease_seconds)
    bound = log.bind(district_id=district_id, due_slot=due_slot.isoformat())
    with service.engine.begin() as conn:
        claim = store_jobs.claim_slot(
            conn,
            district_id=district_id,
            due_slot=due_slot,
            worker=worker,
            now=datetime.now(UTC),
            lease=lease,
        )
        quarantined = district_id in store_jobs.quarantined(conn)
    if claim is store_jobs.Claim.DUPLICATE:
        return SlotResult(outcome=SlotOutcome.DUPLICATE)
    if claim is store_jobs.Claim.BUSY:
        return SlotResult(outcome=SlotOutcome.BUSY)
    source = service.runs.configured_source(district_id)
    outcome = RunOutcome()
    with Heartbeat(service, district_id=district_id, due_slot=due_slot, worker=worker):
        try:
            report = service.runs.sync(
                district_id, trigger=trigger, source=source, observers=[outcome]
            )
        except SyncInProgress:
            # Someone else is syncing the district right now, perhaps with an older roster or
            # only a preview: this slot runs again once their lock is free, never silently not.
            _requeue(
                service, district_id, due_slot, worker, SlotOutcome.WAITING_FOR_LOCK, counted=False
            )
            bound.info("job.waiting_for_lock")
            return SlotResult(outcome=SlotOutcome.WAITING_FOR_LOCK)
        except DatabaseUnavailable:
            # The run is recorded failed once the database answers; the slot is tried again.
            if final_attempt:
                _finish(service, district_id, due_slot, worker, None, "failed")
                raise
            _requeue(service, district_id, due_slot, worker, "database_unavailable")
            bound.warning("job.retry_database")
            return SlotResult(outcome=SlotOutcome.RETRY)
        except BaseException:
            _finish(service, district_id, due_slot, worker, None, "crashed")
            raise
    retriable = report.status == "failed" and outcome.retriable
    if retriable and not final_attempt and not quarantined:
        with service.engine.begin() as conn:
            store_jobs.release_slot(
                conn,
                district_id=district_id,
                due_slot=due_slot,
                worker=worker,
                run_id=report.run_id,
                now=datetime.now(UTC),
            )
        bound.info("job.retry", run_id=report.run_id)
        return SlotResult(outcome=SlotOutcome.RETRY, run_id=report.run_id, status=report.status)
    if not _finish(service, district_id, due_slot, worker, report.run_id, report.status):
        bound.warning("job.claim_lost", run_id=report.run_id)
    attempts = _attempts(service, district_id, due_slot)
    _after_finish(service, notifier, district_id, report.run_id, report.status, report.error)
    notifier.after_run(report.run_id, attempts=attempts, newest_source_change=outcome.newest_change)
    bound.info("job.finished", run_id=report.run_id, status=report.status, attempts=attempts)
    return SlotResult(outcome=SlotOutcome.DONE, run_id=report.run_id, status=report.status)


def _after_finish(
    service: Services,
    notifier: Notifier,
    district_id: str,
    run_id: str,
    status: str,
    error: str | None,
) -> None:
    """Quarantine a district after N failed scheduled slots in a row; lift it on a success."""
    threshold = service.settings.quarantine_after_failures
    now = datetime.now(UTC)
    with service.engine.begin() as conn:
        if status == "succeeded":
            store_jobs.set_quarantine(conn, district_id=district_id, reason=None, now=now)
            return
        if status != "failed":
            return
        recent = store_jobs.recent_outcomes(conn, district_id, threshold)
        if len(recent) < threshold or any(s != "failed" for s in recent):
            return
        reason = error or "the roster source failed"
        changed = store_jobs.set_quarantine(conn, district_id=district_id, reason=reason, now=now)
    if changed:
        log.warning("job.quarantined", district_id=district_id, failures=threshold)
        info = service.districts.schedule(district_id)
        notifier.district_quarantined(
            district_id,
            failures=threshold,
            reason=reason,
            schedule=quarantine_schedule(info.schedule).describe(),
            run_id=run_id,
        )


def _finish(
    service: Services,
    district_id: str,
    due_slot: datetime,
    worker: str,
    run_id: str | None,
    outcome: str,
) -> bool:
    with service.engine.begin() as conn:
        return store_jobs.finish_slot(
            conn,
            district_id=district_id,
            due_slot=due_slot,
            worker=worker,
            run_id=run_id,
            outcome=outcome,
            now=datetime.now(UTC),
        )


def _requeue(
    service: Services,
    district_id: str,
    due_slot: datetime,
    worker: str,
    why: str,
    *,
    counted: bool = True,
) -> None:
    """Put a claimed slot back to queued with why it waits (shown in `rostersync slots`)."""

    def put_back() -> None:
        with service.engine.begin() as conn:
            store_jobs.release_slot(
                conn,
                district_id=district_id,
                due_slot=due_slot,
                worker=worker,
                run_id=None,
                now=datetime.now(UTC),
                outcome=why,
                counted=counted,
            )

    store_locks.retry_for(store_locks.RECORD_FOR_SECONDS, "put a slot back", put_back)


def _attempts(service: Services, district_id: str, due_slot: datetime) -> int:
    with service.engine.connect() as conn:
        slot = store_jobs.get_slot(conn, district_id, due_slot)
    return slot.attempts if slot is not None else 1
