"""Where a roster request may go: the outbound guard every district source connects through.

A district's source URL is typed by a person, so the server must not become their probe of its
own network (server-side request forgery). `guarded_transport` is an httpx transport that, for
each new connection:

- refuses a scheme other than `https` when the policy requires it (production);
- resolves the host itself and refuses it when any address it resolves to is loopback, private,
  link-local (169.254.0.0/16 with the cloud metadata address), multicast, unspecified, reserved or
  otherwise not globally routable, unless the policy allows private addresses (development and
  tests);
- connects to exactly the address it checked, so a name that resolves differently a moment later
  (DNS rebinding) cannot move the connection; TLS still verifies the host name.

Redirects are never followed (`oneroster.http.open_http`). A refusal raises `OutboundRefused`, a
`FatalSourceError`: retrying cannot help, and the person is told one generic sentence.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpcore
import httpx

from rostersync.errors import FatalSourceError
from rostersync.oneroster.http import tls_context

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class OutboundRefused(FatalSourceError):
    """The policy does not let rostersync connect to that address or scheme."""


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """What outbound roster connections may reach."""

    allow_private: bool = False
    require_https: bool = True

    def check_scheme(self, scheme: str, host: str) -> None:
        """Raises: OutboundRefused: a plain-http source while https is required."""
        if self.require_https and scheme != "https":
            raise OutboundRefused(
                f"the source {host} is not https; rostersync sends district credentials only "
                "over https: use the https:// address ClassLink's console shows"
            )

    def allows(self, address: Address) -> bool:
        """Whether a connection to `address` is allowed."""
        if self.allow_private:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_global and not (
            address.is_multicast or address.is_unspecified or address.is_reserved
        )


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolves `host` to, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def checked_addresses(
    host: str, port: int, policy: OutboundPolicy, resolver: Resolver = system_resolver
) -> list[str]:
    """The addresses to connect to for `host`, all of them allowed by `policy`.

    A host with any refused address is refused whole: a name that mixes a public and a private
    address is the shape of a rebinding attack.

    Raises:
        OutboundRefused: The host resolves to an address the policy refuses.
        OSError: The host does not resolve.
    """
    literal = _literal(host)
    found = [literal] if literal is not None else [_literal(a) for a in resolver(host, port)]
    addresses = [a for a in found if a is not None]
    if not addresses:
        raise OSError(f"{host} resolved to no address")
    if not all(policy.allows(address) for address in addresses):
        raise OutboundRefused(
            f"{host} is a private, loopback, link-local or otherwise internal address; "
            "rostersync connects only to public roster servers"
        )
    return [str(address) for address in addresses]


def _literal(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to checked addresses, and to those exactly."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port, self._policy, self._resolver)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} did not resolve") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("rostersync does not connect to local sockets for a roster")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a connection pool whose connections the guard opens."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver) -> None:
        super().__init__(verify=tls_context())
        self._policy = policy
        # httpx builds its pool without a way to pass a network backend; rebuild it with ours,
        # keeping httpx's TLS context (certificates verified against the host name).
        ssl_context = self._pool._ssl_context
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            network_backend=_GuardedBackend(policy, resolver),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_scheme(request.url.scheme, request.url.host)
        return super().handle_request(request)


def guarded_transport(
    policy: OutboundPolicy, resolver: Resolver = system_resolver
) -> httpx.BaseTransport:
    """An httpx transport that connects only where `policy` allows (see the module's doc)."""
    return _GuardedTransport(policy, resolver)
