"""Serving the portal with uvicorn: in the foreground (`rostersync serve`), with several worker
processes (`rostersync serve --workers N`), or from a thread (tests, the demo).

uvicorn's access log is always off: its lines carry query strings, and the ClassLink callback's
query holds the authorization code and state.

With several workers (decision 0034) uvicorn starts each from an import string naming an app
factory, so every worker builds its own service, database pool and ClassLink client. What a
sign-in needs to be shared is already outside the process: sessions and login states are rows in
the database, and the staff rate limits must be in Redis (`shared_limits_or_refusal`). Each worker
counts its own Prometheus metrics in a private directory made here (prometheus-client's
multiprocess mode), removed when serving stops.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import uvicorn

from rostersync.config import Settings

#: The environment variable prometheus-client reads, at import, to count in shared files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: How every server here runs uvicorn. "auto" takes uvloop's event loop and httptools' HTTP
#: parser, both dependencies of rostersync, when they are installed (asyncio's loop and h11
#: otherwise), which spend less CPU on each request than the pure-Python pair (docs/benchmarks.md).
UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "auto",
    "http": "auto",
    "access_log": False,
    "log_level": "warning",
}


def serve(app: Any, *, host: str, port: int) -> None:
    """Serve `app` until interrupted."""
    uvicorn.run(app, host=host, port=port, **UVICORN_OPTIONS)


def shared_limits_or_refusal(settings: Settings, workers: int) -> str | None:
    """Why `workers` processes cannot serve with these settings, or None when they can.

    Staff rate limits kept in memory would be counted per process, giving an attacker a budget
    per worker; with more than one worker they must live in Redis (decision 0034).
    """
    if workers <= 1:
        return None
    url = settings.rate_limit_storage_url or (
        settings.redis_url if settings.queue_backend == "redis" else "memory://"
    )
    if url.startswith("memory"):
        return (
            f"--workers {workers} needs the staff rate limits shared by every worker: set "
            "ROSTERSYNC_RATE_LIMIT_STORAGE_URL to a Redis URL (or put the job queue on Redis "
            "with ROSTERSYNC_QUEUE_BACKEND=redis), or serve with --workers 1"
        )
    return None


@contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """A private directory for the workers' Prometheus counters while serving with several.

    Set in the environment before uvicorn spawns the workers (each imports prometheus-client
    afresh and so counts in the directory); emptied and removed afterwards. One worker counts in
    its own memory as before: nothing is made, and None is yielded.
    """
    if workers <= 1:
        yield None
        return
    directory = tempfile.mkdtemp(prefix="rostersync-metrics-")  # mode 0700: ours alone
    before = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        if before is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = before
        shutil.rmtree(directory, ignore_errors=True)


def serve_workers(factory: str, *, host: str, port: int, workers: int) -> None:
    """Serve the app `factory` ("module:function", called in each worker) until interrupted.

    Args:
        factory: Import string of a function with no arguments that builds the ASGI app.
        host: Address to listen on.
        port: Port to listen on.
        workers: Worker processes; 1 serves in this process.
    """
    with metrics_directory(workers):
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **UVICORN_OPTIONS,
            # Workers start by building the app (database, templates): give them time.
            timeout_worker_healthcheck=30,
        )


class PortalServer:
    """Serves an ASGI app from a daemon thread on a socket bound at construction.

    The socket is bound first so the URL is known before the app is built: the portal's redirect
    URI, and the ClassLink client registration, are made from it.

    Args:
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, app: Any) -> PortalServer:
        """Serve `app`; returns once uvicorn accepts connections.

        Raises:
            RuntimeError: uvicorn did not start within 10 seconds.
        """
        config = uvicorn.Config(app, lifespan="off", **UVICORN_OPTIONS)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="rostersync-portal",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the portal did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and release the socket."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._socket.close()

    def __enter__(self) -> PortalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
