"""Tables for the delta feature; they share the one `metadata` of `rostersync.store.tables`."""

from __future__ import annotations

from rostersync.store.tables import metadata

__all__ = ["metadata"]
