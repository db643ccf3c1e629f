"""Ways to send an email: SMTP, an outbox folder of .eml files, an in-memory recorder.

All three take a finished `EmailMessage`. `deliver` retries a failed send a bounded number of
times and reports failure instead of raising: an email never fails a sync.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import structlog

from rostersync.config import Settings
from rostersync.store.private_files import create_private, private_dir

log = structlog.get_logger(__name__)


class Sender(Protocol):
    """Sends one message or raises."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    """Sends through an SMTP server: implicit TLS, STARTTLS or plain, with optional login.

    Args:
        host: The server.
        port: 465 for implicit TLS, 587 for STARTTLS, 25 for plain.
        username: Login name; no login when empty.
        password: Login password.
        starttls: Upgrade a plain connection with STARTTLS before logging in.
        use_ssl: Connect with implicit TLS (wins over `starttls`).
        timeout: Seconds for the connection and each command.
        context: TLS context; the system's default verification when None.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 30.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = timeout
        self.context = context or ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls and not self.use_ssl:
                smtp.starttls(context=self.context)
            if self.username:
                smtp.login(self.username, self._password)
            smtp.send_message(message)


class OutboxSender:
    """Writes each message as an .eml file in a folder: the embedded default, no server needed.

    Files are written whole under a temporary name and renamed, so a reader never sees half a
    message; only the owner may read them (they hold the district's data).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        private_dir(self.directory)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        partial = path.with_suffix(".part")
        with create_private(partial) as handle:
            handle.write(message.as_bytes())
        partial.replace(path)
        self.last_path = path


class MemorySender:
    """Keeps every message in a list: for tests and previews."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            self.messages.append(message)


def sender_for(settings: Settings) -> Sender:
    """The sender the settings choose: SMTP, or the outbox folder."""
    if settings.mail_backend == "smtp":
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            use_ssl=settings.smtp_ssl,
            timeout=settings.smtp_timeout_seconds,
        )
    return OutboxSender(settings.resolved_outbox_dir)


def deliver(
    sender: Sender, message: EmailMessage, *, attempts: int = 3, delay: float = 2.0
) -> bool:
    """Send, retrying a failed attempt with a doubling delay; never raises for a send failure.

    Returns:
        True when a send succeeded.
    """
    for attempt in range(1, attempts + 1):
        try:
            sender.send(message)
            return True
        except (OSError, smtplib.SMTPException) as exc:
            # The message itself holds a district's data: log only what failed, not what.
            log.warning(
                "email.send_failed",
                attempt=attempt,
                attempts=attempts,
                error_type=type(exc).__name__,
            )
            if attempt < attempts:
                time.sleep(delay * 2 ** (attempt - 1))
    return False
