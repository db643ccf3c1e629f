"""Prometheus metrics of this process, served at the portal's `/metrics` (web/metrics.py).

Counters only count: their labels are reason codes and action names, never a person, a district
or an address, so the page holds no personal data. Each process counts its own; a scraper adds
them up across the portal's processes.

    rostersync_sign_in_refusals_total{reason}        ClassLink sign-ins refused, by reason code
    rostersync_rate_limited_total{action,scope}      staff tries refused by a rate limit
    rostersync_roster_budget_waits_total{reason}     roster requests that waited for their turn
    rostersync_roster_budget_wait_seconds_total{reason}  seconds they waited
    rostersync_roster_budget_refusals_total{reason}  roster requests given up (the run fails)
    rostersync_runs_total{status}                    sync runs ended, by status
    rostersync_run_seconds{status}                   how long they took (histogram)

A roster wait's reason is `budget` (the host's shared window was full) or `closed` (the host
answered `Retry-After`; decision 0029).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

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


def run_ended(status: str, seconds: float) -> None:
    """Count a sync run that ended with `status` after `seconds`."""
    RUNS.labels(status=status).inc()
    RUN_SECONDS.labels(status=status).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


__all__ = [
    "RATE_LIMITED",
    "REGISTRY",
    "ROSTER_BUDGET_REFUSALS",
    "ROSTER_BUDGET_WAITS",
    "ROSTER_BUDGET_WAIT_SECONDS",
    "RUNS",
    "RUN_SECONDS",
    "SIGN_IN_REFUSALS",
    "exposition",
    "run_ended",
]
