"""What every CLI command shares: the service it calls and who it acts as."""

from __future__ import annotations

import getpass

from rostersync.config import Settings, get_settings
from rostersync.logs import configure_logging
from rostersync.service import RosterSync


def service(settings: Settings | None = None) -> RosterSync:
    """The service API, with logging configured from the same settings."""
    settings = settings or get_settings()
    configure_logging(settings)
    return RosterSync(settings)


def actor_name(actor: str | None) -> str:
    """Who is making a change, for the audit log: the given name, or `cli:<login name>`."""
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"
