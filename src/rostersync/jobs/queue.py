"""The job queue: one Huey instance per configuration, the same tasks on every backend.

`SqliteHuey` (a file in data_dir, no server) is the embedded default; `PriorityRedisHuey` serves
many workers on many machines. Either way the tasks are the same functions: `sync_district`
runs one scheduled slot (`tasks.run_slot`), `tick` enqueues what is due every minute.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from huey import Huey, crontab

from rostersync.config import Settings
from rostersync.errors import RetriableSourceError
from rostersync.jobs.tasks import SlotOutcome, run_slot
from rostersync.notify.notifier import Notifier
from rostersync.notify.senders import Sender
from rostersync.providers.registry import PROVIDERS, roster_budget
from rostersync.queue_backend import make_huey as make_huey
from rostersync.sync.metered import count_runs

if TYPE_CHECKING:
    from rostersync.services import Services

log = structlog.get_logger(__name__)

SYNC_TASK = "rostersync.sync_district"
TICK_TASK = "rostersync.tick"
# A district pushed a OneRoster bundle (rostersync.web.push): sync from it.
PUSH_TASK = "rostersync.sync_pushed_bundle"
# Hourly: delete pushed bundles past their retention period (store.push_files).
RETENTION_TASK = "rostersync.expire_pushed_bundles"
# A slot that met another sync's lock looks again this often (seconds).
LOCK_RETRY_SECONDS = 5


class JobQueue:
    """The tasks of rostersync registered on one Huey instance.

    Args:
        settings: The configuration (queue, retries, leases, mail).
        huey: Use this instance instead of `make_huey(settings)`.
        service: Use this service API instead of one made on first use (one per process).
        sender: Send emails with this instead of the sender the settings choose.
        periodic: Register the every-minute scheduler tick.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        huey: Huey | None = None,
        service: Services | None = None,
        sender: Sender | None = None,
        periodic: bool = True,
    ) -> None:
        self.settings = settings
        self.huey = huey or make_huey(settings)
        self._service = service
        self._sender = sender
        self._notifier: Notifier | None = None
        self._lock = threading.Lock()
        self.sync_district = self.huey.task(
            name=SYNC_TASK,
            context=True,
            retries=settings.job_max_retries,
            retry_delay=settings.job_retry_delay_seconds,
            # Each retry waits twice as long as the one before.
            retry_backoff=2,
        )(self._sync_district)
        self.sync_pushed_bundle = self.huey.task(name=PUSH_TASK)(self._sync_pushed_bundle)
        self.tick = (
            self.huey.periodic_task(crontab(minute="*"), name=TICK_TASK)(self._tick)
            if periodic
            else None
        )
        self.expire_bundles = (
            self.huey.periodic_task(crontab(minute="17"), name=RETENTION_TASK)(self._expire_bundles)
            if periodic
            else None
        )

    def service(self) -> Services:
        """This process's service API, made on first use and shared by its worker threads."""
        with self._lock:
            if self._service is None:
                from rostersync.services import Services

                self._service = Services(self.settings)
                # Each run's wait for the shared request budget, on /metrics (sync.metered).
                count_runs.listen_to(roster_budget(self.settings))
            if self._notifier is None:
                self._notifier = Notifier(
                    self._service.engine,
                    self.settings,
                    self._sender,
                    audience_of=PROVIDERS.audience,
                )
            return self._service

    def notifier(self) -> Notifier:
        self.service()
        assert self._notifier is not None
        return self._notifier

    def enqueue_sync(self, district_id: str, due_slot: datetime, trigger: str) -> None:
        """Send one slot to the queue (any worker may take it)."""
        self.sync_district(district_id, due_slot.isoformat(), trigger)

    def _sync_district(
        self, district_id: str, due_slot: str, trigger: str, task: Any = None
    ) -> str:
        remaining = task.retries if task is not None else 0
        result = run_slot(
            self.service(),
            self.notifier(),
            district_id=district_id,
            due_slot=datetime.fromisoformat(due_slot),
            trigger=trigger,
            final_attempt=remaining == 0,
        )
        if result.outcome is SlotOutcome.RETRY:
            # Raising hands the retry and its backoff to Huey; the slot is queued again.
            raise RetriableSourceError(
                f"sync of district {district_id} failed for now; retrying ({remaining} left)"
            )
        if result.outcome is SlotOutcome.BUSY:
            self.sync_district.schedule(
                args=(district_id, due_slot, trigger),
                delay=max(1, self.settings.job_lease_seconds // 3),
            )
        if result.outcome is SlotOutcome.WAITING_FOR_LOCK:
            # A lock follows its holder's life (store.locks): look again soon.
            self.sync_district.schedule(
                args=(district_id, due_slot, trigger), delay=LOCK_RETRY_SECONDS
            )
        return result.outcome.value

    def _tick(self) -> int:
        from rostersync.jobs.scheduler import tick

        return len(tick(self.service(), enqueue=self.enqueue_sync))

    def _expire_bundles(self) -> int:
        expired = self.service().push.expire()
        return int(expired.count)

    def enqueue_bundle(self, bundle_id: str) -> None:
        """Send a pushed bundle's sync to the queue (any worker may take it)."""
        self.sync_pushed_bundle(bundle_id)

    def _sync_pushed_bundle(self, bundle_id: str) -> str:
        from rostersync.errors import SyncInProgress

        try:
            bundle = self.service().push.sync_bundle(bundle_id)
        except SyncInProgress:
            # The district's scheduled or manual sync is running: the bundle waits its turn.
            self.sync_pushed_bundle.schedule(
                args=(bundle_id,), delay=max(1, self.settings.job_lease_seconds // 3)
            )
            return "busy"
        except Exception as exc:
            # Recorded on the bundle as failed already; a crash is not retried with the same file.
            log.error("push.sync_crashed", bundle_id=bundle_id, error_type=type(exc).__name__)
            return "failed"
        if bundle.run_id is not None and bundle.status in ("succeeded", "held", "failed"):
            # The data manager hears how a pushed bundle's sync went, as for a scheduled one.
            self.notifier().after_run(bundle.run_id)
        return str(bundle.status)
