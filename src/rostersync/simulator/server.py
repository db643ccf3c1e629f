"""A ClassLink-style OneRoster 1.1 Roster Server on loopback, standard library HTTP only.

Each tenant lives under its own path prefix: `{url}/{tenant}/ims/oneroster/v1p1/...`. Requests are
verified with OAuth 1.0a (RFC 5849, HMAC-SHA256 or HMAC-SHA1) against the tenant's key and secret.
The server is quiet: nothing is logged per request unless `verbose`, and then only the method, the
path without its query and the status; Authorization headers and query strings are never logged.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any

from rostersync.simulator.faults import Fault, FaultPlan
from rostersync.simulator.loopback import LoopbackServer, TrackingHTTPServer
from rostersync.simulator.oauth2 import TokenIssuer
from rostersync.simulator.proxy import ProxyService
from rostersync.simulator.response import failure
from rostersync.simulator.router import Router
from rostersync.simulator.tenant import Tenant
from rostersync.simulator.v1p2 import V1p2Service

_log = logging.getLogger(__name__)


class SimulatorServer(LoopbackServer):
    """Serves one or more `Tenant`s over HTTP from a daemon thread.

    Use as a context manager, or call `start()` and `stop()`.

    Args:
        tenants: Tenants to serve from the start; more can be added with `add_tenant`.
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one (see `url` after `start`).
        clock: Current Unix time in seconds, used to check oauth_timestamp.
        timestamp_window: Allowed difference between oauth_timestamp and `clock`, in seconds.
        verbose: Write one line per request (method, path without query, status) to stderr.
    """

    def __init__(
        self,
        tenants: Iterable[Tenant] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        timestamp_window: int = 300,
        verbose: bool = False,
    ) -> None:
        self._router = Router(clock=clock, window=timestamp_window)
        for tenant in tenants:
            self._router.add(tenant)
        # OneRoster 1.2 with its OAuth 2 token endpoint, and the ClassLink proxy, beside 1.1.
        self.tokens = TokenIssuer(self._router, clock=clock)
        self.proxy = ProxyService(self._router)
        self.v1p2 = V1p2Service(self._router, self.tokens)
        self._router.mounts += [self.tokens.handle, self.v1p2.handle, self.proxy.handle]
        self._address = (host, port)
        self._verbose = verbose
        super().__init__()

    def _make_httpd(self) -> _HTTPServer:
        return _HTTPServer(self._address, self._router, verbose=self._verbose)

    def base_url(self, name: str) -> str:
        """The OneRoster 1.1 base URL of a tenant, e.g. `http://127.0.0.1:54321/acme/ims/oneroster/v1p1`.

        Raises:
            KeyError: No tenant has this name.
        """
        tenant = self._router.tenant(name)
        return f"{self.url}/{tenant.name}/ims/oneroster/v1p1"

    def v1p2_base_url(self, name: str) -> str:
        """The OneRoster 1.2 base URL of a tenant (`…/{name}/ims/oneroster/rostering/v1p2`).

        Raises:
            KeyError: No tenant has this name.
        """
        return f"{self.url}/{self._router.tenant(name).name}/ims/oneroster/rostering/v1p2"

    def token_url(self, name: str) -> str:
        """The tenant's OAuth 2 token endpoint (`…/{name}/token`).

        Raises:
            KeyError: No tenant has this name.
        """
        return f"{self.url}/{self._router.tenant(name).name}/token"

    def add_tenant(self, tenant: Tenant) -> None:
        """Serve another tenant, also while running.

        Raises:
            ValueError: A tenant with the same name exists.
        """
        self._router.add(tenant)

    def tenant(self, name: str) -> Tenant:
        """The tenant with this name; assign to its `data` to change what it serves.

        Raises:
            KeyError: No tenant has this name.
        """
        return self._router.tenant(name)

    def set_faults(self, name: str, *faults: Fault) -> FaultPlan:
        """Make a tenant misbehave from its next request on, replacing any earlier faults.

        Call with no faults to make it well-behaved again.

        Returns:
            The tenant's new plan; its `fired` counts say what happened.

        Raises:
            KeyError: No tenant has this name.
        """
        tenant = self._router.tenant(name)
        tenant.faults = FaultPlan(list(faults))
        return tenant.faults

    def request_count(self, name: str) -> int:
        """How many requests reached the tenant's prefix, including refused ones.

        Raises:
            KeyError: No tenant has this name.
        """
        return self._router.request_count(name)


class _HTTPServer(TrackingHTTPServer):
    """The OneRoster simulator's HTTP server: requests go to the router."""

    def __init__(self, address: tuple[str, int], router: Router, *, verbose: bool) -> None:
        self.router = router
        self.verbose = verbose
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is normal for a test server; anything else is a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            _log.error("simulator connection failed", exc_info=self.verbose)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's algorithm the body waits for
    # the client's (delayed) acknowledgement of the headers, about 40 ms per keep-alive request
    # on Linux, which made every page of a small district cost that long. Real servers send
    # without the wait (TCP_NODELAY), and so does the simulator.
    disable_nagle_algorithm = True
    server_version = "rostersync-simulator"
    sys_version = ""
    # Idle keep-alive connections must not pin handler threads forever.
    timeout = 60
    server: _HTTPServer

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _answer(self) -> None:
        if self.command != "GET":
            # The body is never read, so the connection cannot be reused safely.
            self.close_connection = True
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        try:
            length = int(self.headers.get("Content-Length") or 0)
            # Only the token endpoint reads a body; a bounded read keeps a bad client harmless.
            body = self.rfile.read(length) if 0 < length <= 65_536 else b""
            response = self.server.router.handle(
                self.command, self.path, host, self.headers.get("Authorization"), body
            )
        except Exception as exc:
            _log.error(
                "simulator failed on %s %s: %s",
                self.command,
                self.path.partition("?")[0],
                type(exc).__name__,
                exc_info=self.server.verbose,
            )
            response = failure(500, "internal_server_error", "the simulator failed to answer")
        payload = response.payload()
        if response.delay > 0:
            time.sleep(response.delay)
        if response.delivery == "truncated":
            # Valid headers for a body that simply stops: the JSON is unreadable.
            payload = payload[: len(payload) // 2]
        if response.delivery == "cut":
            # Content-Length promises the whole body; half is sent and the connection closed.
            self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection and response.delivery != "cut":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload if response.delivery != "cut" else payload[: len(payload) // 2])

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.verbose:
            path = self.path.partition("?")[0]
            sys.stderr.write(f"{self.command} {path} {code}\n")

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes the raw request line, query string included; stay silent instead.
        return
