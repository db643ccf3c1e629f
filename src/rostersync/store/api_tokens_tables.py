"""Tables for personal API tokens; they share the one `metadata` of `rostersync.store.tables`.

`staff_api_tokens` holds the tokens vendor staff and data managers make to call the JSON API
without a browser. Only the SHA-256 of a token is kept (the token is shown once, when made), so
a copy of the database cannot call the API; `prefix` is the token's first characters, shown so
its owner can tell their tokens apart. A revoked token keeps its row (`revoked_at`) for the
record; it is never accepted again. What a token may reach is its account's role and district
at the time of each call, never a copy kept with the token.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from rostersync.store.tables import ID, UtcDateTime, metadata

HASH = 64  # a SHA-256 in hex
PREFIX = 16  # "rs_" and the first characters of the secret
LABEL = 100

staff_api_tokens = Table(
    "staff_api_tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("staff_id", String(ID), ForeignKey("staff_accounts.id"), nullable=False),
    Column("label", String(LABEL), nullable=False),
    Column("token_hash", String(HASH), nullable=False, unique=True),
    Column("prefix", String(PREFIX), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Written at most once a minute per token (staff/api_tokens.py), not on every call.
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Index(None, "staff_id"),
)

__all__ = ["HASH", "LABEL", "PREFIX", "metadata", "staff_api_tokens"]
