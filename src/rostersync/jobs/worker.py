"""`rostersync worker`: Huey consumers running the sync tasks and the every-minute tick.

Run one per machine (or several): every worker claims slots through the database, so adding
workers adds throughput and never runs a slot twice. `python -m rostersync.jobs.worker` runs one
from the environment's settings.
"""

from __future__ import annotations

import argparse
import logging

from rostersync.config import Settings, get_settings
from rostersync.jobs.queue import JobQueue
from rostersync.logs import configure_logging


def run_worker(settings: Settings, *, workers: int = 1, periodic: bool = True) -> None:
    """Consume the queue until interrupted (SIGINT finishes running tasks, SIGTERM stops).

    Args:
        settings: The configuration (queue backend and name, database, mail).
        workers: Worker threads in this process.
        periodic: Also run the scheduler tick every minute.
    """
    configure_logging(settings)
    # Huey's own lines name tasks by id only; keep them, at warning level, beside ours.
    logging.getLogger("huey").setLevel(logging.WARNING)
    queue = JobQueue(settings, periodic=periodic)
    consumer = queue.huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=periodic,
        initial_delay=0.05,
        max_delay=1.0,
        check_worker_health=True,
    )
    consumer.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rostersync.jobs.worker")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-periodic", action="store_true")
    args = parser.parse_args(argv)
    run_worker(get_settings(), workers=args.workers, periodic=not args.no_periodic)


if __name__ == "__main__":
    main()
