"""Serving the portal with uvicorn: in the foreground (`rostersync serve`) or from a thread.

uvicorn's access log is always off: its lines carry query strings, and the ClassLink callback's
query holds the authorization code and state.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


def serve(app: Any, *, host: str, port: int) -> None:
    """Serve `app` until interrupted."""
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


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
        config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="off")
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
