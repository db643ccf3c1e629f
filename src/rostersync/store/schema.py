"""The whole schema: importing this module registers every table on the one `metadata`.

Migrations and the schema tests use this, so a feature's tables module is never forgotten.
"""

from __future__ import annotations

from rostersync.store import (
    admin_tables,
    api_tokens_tables,
    delta_tables,
    jobs_tables,
    privacy_tables,
    progress_tables,
    push_tables,
    signin_tables,
    tables,
    web_tables,
    workflow_tables,
)
from rostersync.store.tables import metadata

__all__ = [
    "admin_tables",
    "api_tokens_tables",
    "delta_tables",
    "jobs_tables",
    "metadata",
    "privacy_tables",
    "progress_tables",
    "push_tables",
    "signin_tables",
    "tables",
    "web_tables",
    "workflow_tables",
]
