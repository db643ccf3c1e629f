"""What every CLI command shares: the service it calls and who it acts as."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from rostersync.config import Settings, get_settings
from rostersync.logs import configure_logging
from rostersync.services import Services

if TYPE_CHECKING:
    from rostersync.jobs.queue import JobQueue


def service(settings: Settings | None = None) -> Services:
    """The service API, with logging configured from the same settings, and the job queue its
    pushed bundles go to (built on first use: only the portal takes pushed bundles)."""
    settings = settings or get_settings()
    configure_logging(settings)
    built = Services(settings)
    built.push.build_queue_with(lambda: push_queue(built))
    return built


def push_queue(service: Services) -> JobQueue:
    """The job queue the settings name, sending pushed bundles' syncs to the workers."""
    from rostersync.jobs.queue import JobQueue

    return JobQueue(service.settings, service=service, periodic=False)


def actor_name(actor: str | None) -> str:
    """Who is making a change, for the audit log: the given name, or `cli:<login name>`."""
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"
