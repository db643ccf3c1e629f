"""The failed-try budgets of staff sign-in, invitations and two-step codes, per address and per
account (docs/decisions/0023-rate-limits-and-refusal-references.md).

Counted in a moving window by the `limits` library, in memory or in Redis when the queue is on
Redis, so every portal process shares them. Keys are keyed hashes (`pseudonym`), never an email
or address. If Redis cannot be reached the tries are let through and logged: the account lockout,
kept in the database, still holds. The web layer (web/ratelimit.py) counts per address and
renders the refusal; `StaffAuth` counts per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from rostersync import metrics
from rostersync.config import Settings
from rostersync.errors import RosterSyncError
from rostersync.refusals import new_reference, pseudonym

ACTIONS = ("sign_in", "invitation", "totp")

_log = structlog.get_logger(__name__)


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


__all__ = ["ACTIONS", "RateLimited", "RateLimits"]
