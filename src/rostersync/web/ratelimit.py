"""Rate limits on the staff paths an attacker would retry: sign-in, invitations, two-step codes.

Each of three actions has two budgets of *failed* tries (docs/decisions/0023-rate-limits-and-
refusal-references.md), counted in a moving window by the `limits` library:

    per address   the client's IP address (as uvicorn sees it, so behind a proxy on this machine
                  the address the proxy forwards); counted here, in `AddressLimits`, from the
                  answer's status: any 4xx but our own 429 is a failed try
    per account   the email typed, the account, or the invitation; counted by `StaffAuth`, which
                  knows what failed (an unknown email counts like a known one)

    action       paths (per address)                              per account
    sign_in      POST /staff/login, POST /staff/login/code        the email / the account
    invitation   GET and POST /staff/invitation/{token}           the invitation
    totp         POST /staff/totp                                 the account

When a budget is spent the try is refused before anything is checked: a 429 page that says when
to try again (and `Retry-After`), and one log line with a reference the page shows. The counts
live in memory, or in Redis when the queue is on Redis, so every portal process shares them. Keys
are keyed hashes (`pseudonym`), never an email or address. If Redis cannot be reached the tries
are let through and logged: the account lockout, kept in the database, still holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rostersync.staff.limits import ACTIONS, RateLimited, RateLimits

if TYPE_CHECKING:
    from fastapi import FastAPI

# (method, path) → action, for the per-address count.
_PATHS: list[tuple[frozenset[str], re.Pattern[str], str]] = [
    (frozenset({"POST"}), re.compile(r"/staff/login(/code)?/?"), "sign_in"),
    (frozenset({"GET", "POST"}), re.compile(r"/staff/invitation/[^/]*/?"), "invitation"),
    (frozenset({"POST"}), re.compile(r"/staff/totp/?"), "totp"),
]

_log = structlog.get_logger(__name__)
_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def action_for(method: str, path: str) -> str | None:
    """Which action a request is a try of, for the per-address count; None for other requests."""
    for methods, pattern, action in _PATHS:
        if method in methods and pattern.fullmatch(path):
            return action
    return None


def too_many_tries(request: Request, exc: RateLimited) -> Response:
    """The 429 page: when to try again, and the reference of the log line."""
    response = _templates.TemplateResponse(
        request,
        "rate_limited.html",
        {"message": str(exc), "reference": exc.reference},
        status_code=429,
    )
    response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


class AddressLimits:
    """ASGI middleware: the per-address budgets of the staff paths in the table above."""

    def __init__(self, app: ASGIApp, limits: Callable[[], RateLimits]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        action = action_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if action is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        limits = self.limits()
        try:
            await run_in_threadpool(limits.check, action, "address", address)
        except RateLimited as exc:
            await too_many_tries(Request(scope), exc)(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            # A failed try is counted before its answer leaves: a client that waits for each
            # answer cannot get its next try in ahead of the count.
            if message["type"] == "http.response.start":
                code = int(message["status"])
                if 400 <= code < 500 and code != 429:
                    await run_in_threadpool(limits.failed, action, "address", address)
            await send(message)

        await self.app(scope, receive, watch)


def install_rate_limits(app: FastAPI, limits: Callable[[], RateLimits]) -> None:
    """Count failed tries per address on the staff paths, and render every `RateLimited`."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RateLimited)
        return too_many_tries(request, exc)

    app.add_middleware(AddressLimits, limits=limits)
    app.add_exception_handler(RateLimited, handler)


__all__ = [
    "ACTIONS",
    "AddressLimits",
    "RateLimited",
    "RateLimits",
    "action_for",
    "install_rate_limits",
]
