"""`rostersync worker`: Huey consumers running the sync tasks and the every-minute tick.

Run one per machine (or several): every worker claims slots through the database, so adding
workers adds throughput and never runs a slot twice. `python -m rostersync.jobs.worker` runs one
from the environment's settings.

The runs' metrics (`rostersync.metrics`: runs, phases, records, budget waits) are counted in the
process that runs them: `--metrics-port` serves this worker's on `http://127.0.0.1:PORT/metrics`
for a scraper on the same machine (loopback only, like the portal's), with the queue's depth.
"""

from __future__ import annotations

import argparse
import logging

import structlog
from prometheus_client import start_http_server

from rostersync import metrics
from rostersync.config import Settings, get_settings
from rostersync.jobs.queue import JobQueue
from rostersync.logs import configure_logging
from rostersync.queue_backend import queue_reader

# Where a worker's metrics are served: this machine only.
METRICS_ADDRESS = "127.0.0.1"


def run_worker(
    settings: Settings,
    *,
    workers: int = 1,
    periodic: bool = True,
    metrics_port: int | None = None,
) -> None:
    """Consume the queue until interrupted (SIGINT finishes running tasks, SIGTERM stops).

    Args:
        settings: The configuration (queue backend and name, database, mail).
        workers: Worker threads in this process.
        periodic: Also run the scheduler tick every minute.
        metrics_port: Serve this process's metrics on loopback at this port (0 picks one).
    """
    configure_logging(settings)
    # Huey's own lines name tasks by id only; keep them, at warning level, beside ours.
    logging.getLogger("huey").setLevel(logging.WARNING)
    queue = JobQueue(settings, periodic=periodic)
    if metrics_port is not None:
        metrics.watch_queue(queue_reader(settings, queue.huey))
        server, _thread = start_http_server(
            metrics_port, addr=METRICS_ADDRESS, registry=metrics.REGISTRY
        )
        structlog.get_logger(__name__).info(
            "worker.metrics", url=f"http://{METRICS_ADDRESS}:{server.server_port}/metrics"
        )
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
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve this worker's metrics on 127.0.0.1 at this port",
    )
    args = parser.parse_args(argv)
    run_worker(
        get_settings(),
        workers=args.workers,
        periodic=not args.no_periodic,
        metrics_port=args.metrics_port,
    )


if __name__ == "__main__":
    main()
