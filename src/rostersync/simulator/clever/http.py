"""The Clever simulator's HTTP plumbing: an answer built before it is written, and the handler.

Nothing is logged per request: district-app tokens, codes and client secrets stay on the wire.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from rostersync.simulator.loopback import TrackingHTTPServer


@dataclass(slots=True)
class Reply:
    """Status, body and headers of one answer.

    `delay` holds the answer back (a `slow` fault); `delivery` is "whole", "cut" (the connection
    closes mid-body) or "truncated" (a complete answer whose body stops halfway).
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    delivery: str = "whole"


def json_reply(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    """A JSON answer."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, "application/json", list(headers))


def message(status: int, text: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    """A Data API error: Clever's Swagger gives errors the body `{"message": …}`."""
    return json_reply(status, {"message": text}, headers)


def redirect(location: str) -> Reply:
    """A 302 to `location`."""
    return Reply(302, b"", "text/plain", [("Location", location)])


class Dispatcher(Protocol):
    """What the handler asks for an answer."""

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply: ...


class CleverHTTPServer(TrackingHTTPServer):
    """Requests go to the simulator's `handle`."""

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer (a test's timeout, a cut fault) is normal here, and
        # anything else already answered 500; stay quiet rather than print a traceback.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "rostersync-clever-simulator"
    sys_version = ""
    timeout = 60
    server: CleverHTTPServer

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= 65_536 else b""
        if length > 65_536:
            self.close_connection = True
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.dispatcher.handle(self.command, self.path, headers, body)
        except Exception:
            reply = message(500, "the simulator failed to answer")
        _write(self, reply, time.sleep)

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes the request line, whose query may hold codes and states.
        return


def _write(handler: _Handler, reply: Reply, sleep: Callable[[float], None]) -> None:
    payload = reply.body
    if reply.delay > 0:
        sleep(reply.delay)
    if reply.delivery == "truncated":
        payload = payload[: len(payload) // 2]
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Content-Length", str(len(payload)))
    for name, value in reply.headers:
        handler.send_header(name, value)
    if reply.delivery == "cut":
        handler.close_connection = True
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(payload if reply.delivery != "cut" else payload[: len(payload) // 2])
