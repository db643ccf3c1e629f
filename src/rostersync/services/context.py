"""What every feature service shares: the settings, the database and the secret box."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.store.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """One configuration's database engine and secret box, made once and shared."""

    settings: Settings
    engine: Engine
    box: SecretBox


def today_in(time_zone: str) -> date:
    """Today's date where the district is (a pause window is in the district's dates)."""
    try:
        return datetime.now(ZoneInfo(time_zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(UTC).date()


def this_process() -> str:
    """Who holds a district's lock: this host and process, for the run page and the audit."""
    return f"{socket.gethostname()} pid {os.getpid()}"
