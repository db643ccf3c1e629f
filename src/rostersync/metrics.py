"""Prometheus metrics of this process, served at the portal's `/metrics` (web/metrics.py).

Counters only count: their labels are reason codes and action names, never a person, a district
or an address, so the page holds no personal data. Each process counts its own; a scraper adds
them up across the portal's processes.

    rostersync_sign_in_refusals_total{reason}        ClassLink sign-ins refused, by reason code
    rostersync_rate_limited_total{action,scope}      staff tries refused by a rate limit
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
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


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


__all__ = ["RATE_LIMITED", "REGISTRY", "SIGN_IN_REFUSALS", "exposition"]
