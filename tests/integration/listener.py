"""A stranger's HTTP listener on loopback: records every request that reaches it, answers 401
(or what it is told to).

Stands in for "a listener of an attacker's choosing" in the tests that a stored secret never
leaves for an address it was not entered for.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = self.request.recv(4096)
            if not chunk:
                break
            head += chunk
        with server.lock:
            server.received.append(head)
        self.wfile.write(server.reply)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, reply: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received: list[bytes] = []
        self.reply = reply


class Listener:
    """What reached the listener: each request's head (request line and headers)."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[bytes]:
        with self._server.lock:
            return list(self._server.received)

    def heard(self, text: str) -> bool:
        """Whether `text` appeared in anything that reached the listener."""
        return any(text.encode() in request for request in self.requests)


UNAUTHORIZED = (
    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
)


def redirect_to(location: str) -> bytes:
    """A reply that sends the client elsewhere."""
    return (
        f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


@contextmanager
def listening(reply: bytes = UNAUTHORIZED) -> Iterator[Listener]:
    """A listener on a free loopback port that answers every request with `reply`."""
    server = _Server(reply)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Listener(server)
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
