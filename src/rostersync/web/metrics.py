"""`GET /metrics`: the process's Prometheus metrics (rostersync/metrics.py), for vendor staff and
for a scraper on this machine only.

Readable by a signed-in vendor staff session, or by a request from loopback (127.0.0.0/8, ::1)
while `metrics_from_loopback` is on; everyone else, data managers included, gets a 403. Behind a
reverse proxy on the same machine, the proxy must forward the client's address (uvicorn trusts
`X-Forwarded-For` from loopback), or every request looks local: turn the setting off there.

The portal's page holds what the portal counts (sign-ins, rate limits, runs it ran itself) and
the job queue's depth, read from the queue's storage at each scrape; the runs that workers run
are counted on each worker's own page (`rostersync.jobs.worker --metrics-port`).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from rostersync import metrics
from rostersync.queue_backend import queue_reader
from rostersync.services import Services
from rostersync.web.gates import MetricsReader, from_loopback


def create_metrics_router(service: Services) -> APIRouter:
    """The `/metrics` route over one service (its settings and staff sessions)."""
    router = APIRouter()
    metrics.watch_queue(queue_reader(service.settings))  # opened at the first scrape

    @router.get("/metrics", include_in_schema=False)
    def read_metrics(allowed: MetricsReader) -> Response:
        if not allowed:
            return PlainTextResponse(
                "Metrics are for vendor staff: sign in at /staff/login with a vendor staff "
                "account, or scrape from the portal's own machine.",
                status_code=403,
            )
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return router


__all__ = ["create_metrics_router", "from_loopback"]
