"""Prometheus metrics of this process, served at the portal's `/metrics` (web/metrics.py).

Counters only count: their labels are reason codes and action names, never a person, a district
or an address, so the page holds no personal data. Each process counts its own: a portal of
several processes adds them up itself (below), and a scraper adds up the portal and the workers.

    rostersync_sign_in_refusals_total{reason}        ClassLink sign-ins refused, by reason code
    rostersync_rate_limited_total{action,scope}      staff tries refused by a rate limit
    rostersync_roster_budget_waits_total{reason}     roster requests that waited for their turn
    rostersync_roster_budget_wait_seconds_total{reason}  seconds they waited
    rostersync_roster_budget_refusals_total{reason}  roster requests given up (the run fails)
    rostersync_runs_total{status}                    sync runs ended, by status
    rostersync_run_seconds{status}                   how long they took (histogram)
    rostersync_run_phase_seconds{phase}              how long runs spent in each phase (histogram)
    rostersync_records_pulled_total{collection}      records pulled (its rate: records per second)
    rostersync_run_records_per_second                a run's records pulled per second of pulling
    rostersync_run_budget_wait_seconds               a run's wait for the shared budget (histogram)
    rostersync_queue_messages{state}                 the job queue's messages, read when scraped

A roster wait's reason is `budget` (the host's shared window was full) or `closed` (the host
answered `Retry-After`; decision 0029). The run families are fed by the runs' events
(`sync.metered`), in the process that runs them: a worker serves its own (`--metrics-port`).
The queue's messages are `pending` (waiting for a worker) or `scheduled` (retries and slots
waiting for a lock, due later), read from the queue's storage at each scrape.

A portal served by several processes (`rostersync serve --workers N`, decision 0034) counts in
prometheus-client's multiprocess files under `PROMETHEUS_MULTIPROC_DIR`: the page then adds every
process's counters up, and shows the answering process's `process_*` metrics.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

_log = structlog.get_logger(__name__)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

SIGN_IN_REFUSALS = Counter(
    "rostersync_sign_in_refusals",
    "ClassLink sign-ins refused, by reason code (the refusal page shows each one's reference).",
    ["reason"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "rostersync_rate_limited",
    "Staff sign-in, invitation and two-step tries refused by a rate limit.",
    ["action", "scope"],
    registry=REGISTRY,
)

ROSTER_BUDGET_WAITS = Counter(
    "rostersync_roster_budget_waits",
    "Roster requests that waited for their turn in the shared budget, by reason.",
    ["reason"],
    registry=REGISTRY,
)
ROSTER_BUDGET_WAIT_SECONDS = Counter(
    "rostersync_roster_budget_wait_seconds",
    "Seconds roster requests waited for their turn in the shared budget, by reason.",
    ["reason"],
    registry=REGISTRY,
)
ROSTER_BUDGET_REFUSALS = Counter(
    "rostersync_roster_budget_refusals",
    "Roster requests given up because their turn would come too late, by reason.",
    ["reason"],
    registry=REGISTRY,
)
RUNS = Counter(
    "rostersync_runs",
    "Sync runs ended, by status.",
    ["status"],
    registry=REGISTRY,
)
RUN_SECONDS = Histogram(
    "rostersync_run_seconds",
    "How long sync runs took, by status.",
    ["status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
    registry=REGISTRY,
)

RUN_PHASE_SECONDS = Histogram(
    "rostersync_run_phase_seconds",
    "How long sync runs spent in each phase (pulling, validating, planning, writing).",
    ["phase"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
RECORDS_PULLED = Counter(
    "rostersync_records_pulled",
    "Roster records pulled by sync runs, by collection; its rate is records per second.",
    ["collection"],
    registry=REGISTRY,
)
RUN_RECORDS_PER_SECOND = Histogram(
    "rostersync_run_records_per_second",
    "Each run's records pulled divided by the seconds of its pulling phase.",
    buckets=(100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000),
    registry=REGISTRY,
)
RUN_BUDGET_WAIT_SECONDS = Histogram(
    "rostersync_run_budget_wait_seconds",
    "Seconds each run's roster requests waited, in all, for the shared request budget; a wide "
    "spread between runs of a night means some districts waited much longer than others.",
    buckets=(0, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)

# What a queue reader returns: state ("pending", "scheduled") → messages.
QueueReader = Callable[[], Mapping[str, int]]


class _QueueCollector(Collector):
    """`rostersync_queue_messages{state}`: read from the queue's storage at each scrape."""

    def __init__(self) -> None:
        self._read: QueueReader | None = None
        self._lock = threading.Lock()

    def watch(self, read: QueueReader) -> None:
        with self._lock:
            self._read = read

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            read = self._read
        if read is None:
            return
        try:
            states = read()
        except Exception as exc:  # an unreachable queue must not break the whole scrape
            _log.warning("metrics.queue_unreadable", error_type=type(exc).__name__)
            return
        family = GaugeMetricFamily(
            "rostersync_queue_messages",
            "Messages in the job queue: pending (waiting for a worker) or scheduled (due later: "
            "retries, slots waiting for a lock).",
            labels=["state"],
        )
        for state, count in sorted(states.items()):
            family.add_metric([state], float(count))
        yield family


_QUEUE = _QueueCollector()
REGISTRY.register(_QUEUE)


def watch_queue(read: QueueReader) -> None:
    """Report the job queue's messages, as `read` counts them, at each scrape (the last
    reader given wins)."""
    _QUEUE.watch(read)


def run_ended(status: str, seconds: float) -> None:
    """Count a sync run that ended with `status` after `seconds`."""
    RUNS.labels(status=status).inc()
    RUN_SECONDS.labels(status=status).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type: this process's, or every
    process's added up when they count in multiprocess files (`PROMETHEUS_MULTIPROC_DIR`)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    ProcessCollector(registry=registry)
    registry.register(_QUEUE)
    return generate_latest(registry), CONTENT_TYPE_LATEST


__all__ = [
    "RATE_LIMITED",
    "RECORDS_PULLED",
    "REGISTRY",
    "ROSTER_BUDGET_REFUSALS",
    "ROSTER_BUDGET_WAITS",
    "ROSTER_BUDGET_WAIT_SECONDS",
    "RUNS",
    "RUN_BUDGET_WAIT_SECONDS",
    "RUN_PHASE_SECONDS",
    "RUN_RECORDS_PER_SECOND",
    "RUN_SECONDS",
    "SIGN_IN_REFUSALS",
    "QueueReader",
    "exposition",
    "run_ended",
    "watch_queue",
]
