"""Roster requests verify the server's certificate, over a real TLS listener on loopback.

Every connection pool a run opens shares one TLS context (`oneroster.http.tls_context`), made
once per process; sharing it must not loosen it: a server whose certificate no trusted authority
signed is refused by the guarded transport and by a plain roster client alike, before any
request is sent.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from tests.integration.certificates import LOOPBACK, self_signed

from rostersync.oneroster.http import open_http, tls_context
from rostersync.oneroster.outbound import OutboundPolicy, guarded_transport

OPEN = OutboundPolicy(allow_private=True, require_https=False)


class _Handler(BaseHTTPRequestHandler):
    heard: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Handler.heard.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def untrusted_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on loopback whose certificate signs itself (nobody vouches for it)."""
    cert, key, _ = self_signed(tmp_path, "roster")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.heard.clear()
    try:
        yield f"https://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_pool_shares_one_context_that_verifies_the_host() -> None:
    context = tls_context()
    assert context is tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_the_guarded_transport_refuses_an_untrusted_certificate(untrusted_server: str) -> None:
    refused = pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED")
    with httpx.Client(transport=guarded_transport(OPEN)) as client, refused:
        client.get(f"{untrusted_server}/ims/oneroster/v1p1/users")
    assert _Handler.heard == []


def test_a_roster_client_refuses_an_untrusted_certificate(untrusted_server: str) -> None:
    refused = pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED")
    with open_http(timeout=5) as client, refused:
        client.get(f"{untrusted_server}/ims/oneroster/v1p1/users")
    assert _Handler.heard == []
