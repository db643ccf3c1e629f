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
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rostersync import metrics
from rostersync.config import Settings
from rostersync.errors import RosterSyncError
from rostersync.web.refusals import new_reference, pseudonym

if TYPE_CHECKING:
    from fastapi import FastAPI

ACTIONS = ("sign_in", "invitation", "totp")
# (method, path) → action, for the per-address count.
_PATHS: list[tuple[frozenset[str], re.Pattern[str], str]] = [
    (frozenset({"POST"}), re.compile(r"/staff/login(/code)?/?"), "sign_in"),
    (frozenset({"GET", "POST"}), re.compile(r"/staff/invitation/[^/]*/?"), "invitation"),
    (frozenset({"POST"}), re.compile(r"/staff/totp/?"), "totp"),
]

_log = structlog.get_logger(__name__)
_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class RateLimited(RosterSyncError):
    """Too many failed tries: refused until `retry_at` (Unix seconds)."""

    def __init__(self, *, action: str, scope: str, retry_at: float, reference: str) -> None:
        self.action, self.scope, self.retry_at, self.reference = action, scope, retry_at, reference
        when = datetime.fromtimestamp(retry_at, UTC).strftime("%H:%M UTC")
        whose = "from your network" if scope == "address" else "for this account"
        super().__init__(
            f"There were too many failed tries {whose}, so this is paused for a while. Try "
            f"again after {when} (in about {self.retry_minutes} minutes). If you did not make "
            "these tries, tell vendor staff and quote the reference below."
        )

    @property
    def retry_after_seconds(self) -> int:
        return max(1, int(self.retry_at - datetime.now(UTC).timestamp()) + 1)

    @property
    def retry_minutes(self) -> int:
        return max(1, -(-self.retry_after_seconds // 60))


@dataclass(frozen=True, slots=True)
class _Budget:
    item: RateLimitItem
    scope: str


class RateLimits:
    """The failed-try budgets of one portal (per address and per account, for each action).

    Args:
        settings: `rate_limit_per_address`, `rate_limit_per_account`, and where counts live
            (`rate_limit_storage_url`; empty: Redis when the queue is on Redis, else memory).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.rate_limit_storage_url or (
            settings.redis_url if settings.queue_backend == "redis" else "memory://"
        )
        options: dict[str, Any] = {"wrap_exceptions": True}
        if not url.startswith("memory"):
            options["key_prefix"] = f"{settings.queue_name}:limits"
        self.storage = storage_from_string(url, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.budgets = {
            "address": _Budget(parse(settings.rate_limit_per_address), "address"),
            "account": _Budget(parse(settings.rate_limit_per_account), "account"),
        }

    def check(self, action: str, scope: str, who: str) -> None:
        """Refuse a try whose budget is spent (nothing is counted).

        Raises:
            RateLimited: With when to try again; logged with its reference, and counted.
        """
        budget, key = self.budgets[scope], pseudonym(who, self.settings)
        try:
            if self.limiter.test(budget.item, action, scope, key):
                return
            reset = self.limiter.get_window_stats(budget.item, action, scope, key).reset_time
        except StorageError as exc:
            _log.error("rate_limit.unavailable", action=action, error=type(exc).__name__)
            return
        refusal = RateLimited(action=action, scope=scope, retry_at=reset, reference=new_reference())
        _log.warning(
            "rate_limit.refused",
            reference=refusal.reference,
            action=action,
            scope=scope,
            who=key,
            retry_after=refusal.retry_after_seconds,
        )
        metrics.RATE_LIMITED.labels(action=action, scope=scope).inc()
        raise refusal

    def failed(self, action: str, scope: str, who: str) -> None:
        """Count one failed try against a budget."""
        try:
            self.limiter.hit(self.budgets[scope].item, action, scope, pseudonym(who, self.settings))
        except StorageError as exc:
            _log.error("rate_limit.unavailable", action=action, error=type(exc).__name__)


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
        status: MutableMapping[str, int] = {}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if 400 <= status.get("code", 0) < 500 and status["code"] != 429:
            await run_in_threadpool(limits.failed, action, "address", address)


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
