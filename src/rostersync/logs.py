"""Structured logging: JSON in production, console on a terminal, never personal data.

Log lines carry internal ids (district id, run id, counts), never names, emails, student IDs,
tokens, credentials or OneRoster filters. `redact` is a last line of defence on the root: a key
that looks personal or secret is blanked even if a caller slips.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from rostersync.config import Settings

SENSITIVE_KEYS = frozenset(
    {
        "email",
        "name",
        "given_name",
        "family_name",
        "username",
        "student_id",
        "secret",
        "key",
        "password",
        "token",
        "authorization",
        "filter",
        "url",
        "query",
        "code",
    }
)


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in SENSITIVE_KEYS:
            event[key] = "[redacted]"
    return event


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is now, so a swapped stream (tests, daemons) still works."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the standard library logger once, from settings."""
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    level = logging.getLevelName(settings.log_level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            level if isinstance(level, int) else 20
        ),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    # oauthlib and httpx can log URLs with filters and headers; keep them quiet.
    for noisy in ("oauthlib", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
