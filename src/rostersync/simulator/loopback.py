"""Serving a simulator on loopback from a daemon thread: the life cycle both simulators share.

The OneRoster simulator and the SSO simulator differ in what they answer, not in how they start,
stop, or say where they are; that part lives here once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self


class ClosingServer(Protocol):
    """A `socketserver` server that can also cut the connections it still holds open."""

    # Read-only in the protocol so that socketserver's plain attributes satisfy it.
    @property
    def server_address(self) -> Any: ...
    @property
    def server_port(self) -> int: ...

    def serve_forever(self, poll_interval: float = 0.5) -> None: ...
    def shutdown(self) -> None: ...
    def close_connections(self) -> None: ...
    def server_close(self) -> None: ...


class LoopbackServer:
    """Start, stop and locate a server running in a daemon thread; a context manager.

    Subclasses name themselves (`_label`, used in errors and the thread name) and build their
    HTTP server in `_make_httpd`.
    """

    _label = "the simulator"
    _thread_prefix = "rostersync-simulator"

    def __init__(self) -> None:
        self._httpd: ClosingServer | None = None
        self._thread: threading.Thread | None = None

    def _make_httpd(self) -> ClosingServer:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        """Bind and start serving in a daemon thread.

        Returns:
            The server itself, for chaining.

        Raises:
            RuntimeError: The server is already running.
        """
        if self._httpd is not None:
            raise RuntimeError(f"{self._label} is already running")
        httpd = self._make_httpd()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self._thread_prefix}-{httpd.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections; does nothing when not running."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join(timeout=5)
        self._httpd = self._thread = None

    @property
    def url(self) -> str:
        """`http://host:port` of the running server.

        Raises:
            RuntimeError: The server has not been started.
        """
        if self._httpd is None:
            raise RuntimeError(f"{self._label} is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"


class TrackingHTTPServer(ThreadingHTTPServer):
    """Remembers open connections so `stop()` can cut keep-alive clients off."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # The peer may have closed it already; either way it is gone.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
