"""Syncs that run themselves: the scheduler tick, the job queue (Huey), and its workers.

See docs/decisions/0007-job-queue.md for how slots, claims, leases and quarantine fit together.
"""

from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.jobs.scheduler import Enqueued, tick
from rostersync.jobs.tasks import SlotOutcome, SlotResult, run_slot

__all__ = [
    "Enqueued",
    "JobQueue",
    "SlotOutcome",
    "SlotResult",
    "make_huey",
    "run_slot",
    "tick",
]
