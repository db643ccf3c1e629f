"""Tables for the admin feature; they share the one `metadata` of `rostersync.store.tables`.

`staff_sign_in_failures` counts consecutive failed password sign-ins per staff account, so a
guessed-at account locks for a while (security: a simple per-account lockout). A row exists only
for an account that failed since its last success.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from rostersync.store.tables import ID, UtcDateTime, metadata

staff_sign_in_failures = Table(
    "staff_sign_in_failures",
    metadata,
    Column("staff_id", String(ID), ForeignKey("staff_accounts.id"), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime, nullable=False),
    # Set when `failures` reaches the limit; sign-in is refused until then.
    Column("locked_until", UtcDateTime, nullable=True),
)

__all__ = ["metadata", "staff_sign_in_failures"]
