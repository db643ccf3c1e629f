"""A real SMTP server on loopback (aiosmtpd) with STARTTLS and AUTH, and what it received."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tests.integration.certificates import self_signed

USER, PASSWORD = "rostersync", "smtp-password-for-tests"


@dataclass
class Received:
    """Messages the server accepted, and how many DATA commands it saw (accepted or not)."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    attempts: int = 0
    refuse: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.received.lock:
            self.received.attempts += 1
            if self.received.refuse:
                return "451 4.3.0 Mailbox temporarily unavailable"
            parsed = message_from_bytes(envelope.original_content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.messages.append(parsed)
            self.received.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == USER.encode()
        and data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    client_context: ssl.SSLContext
    received: Received


def _free_port() -> int:
    # aiosmtpd's Controller probes its own port on start, so it needs a concrete one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """An SMTP server on loopback requiring STARTTLS, then AUTH, before it takes mail."""
    cert_path, key_path, pem = self_signed(tmp_path, "smtp")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    received = Received()
    controller = Controller(
        _Handler(received),
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=server_context,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator,
    )
    controller.start()
    try:
        yield SmtpServer(
            host="127.0.0.1",
            port=controller.port,
            client_context=ssl.create_default_context(cadata=pem.decode()),
            received=received,
        )
    finally:
        controller.stop()
