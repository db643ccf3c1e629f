"""Where the job queue's messages are kept: the Huey instance a configuration describes.

Both the job queue (`rostersync.jobs`) and the portal's `/metrics` (its queue depth) open it,
so it lives below both of them.
"""

from __future__ import annotations

import threading

from huey import Huey, PriorityRedisHuey, SqliteHuey

from rostersync.config import Settings
from rostersync.metrics import QueueReader
from rostersync.store.db import private_database
from rostersync.store.private_files import private_dir

__all__ = ["make_huey", "queue_reader"]


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """The Huey instance the settings describe.

    Args:
        settings: `queue_backend` ("sqlite" or "redis"), `queue_name`, `redis_url`, `data_dir`.
        immediate: Run tasks in the calling thread as they are enqueued (tests, the demo).
    """
    if settings.queue_backend == "redis":
        return PriorityRedisHuey(
            settings.queue_name,
            url=settings.redis_url,
            utc=True,
            immediate=immediate,
            results=False,
        )
    # The queue's file holds district ids and bundle ids: owner-only, like the portal's.
    private_dir(settings.data_dir)
    path = settings.data_dir / f"{settings.queue_name}-queue.db"
    private_database(path)
    return SqliteHuey(
        settings.queue_name, filename=str(path), utc=True, immediate=immediate, results=False
    )


def queue_reader(settings: Settings, huey: Huey | None = None) -> QueueReader:
    """Counts the queue's messages when called: `pending` (waiting for a worker) and
    `scheduled` (due later). The queue is opened on the first call, not before."""
    opened: list[Huey] = [huey] if huey is not None else []
    lock = threading.Lock()

    def read() -> dict[str, int]:
        with lock:
            if not opened:
                opened.append(make_huey(settings))
            queue = opened[0]
        return {"pending": queue.pending_count(), "scheduled": queue.scheduled_count()}

    return read
