"""The one exception tree of rostersync. Each name says what the caller does next.

RosterSyncError                 root; every message says how to fix the problem
├── ConfigError                 settings or district configuration is wrong: fix it and retry
├── SourceError                 talking to the roster source (ClassLink, OneRoster, a bundle)
│   ├── SourceAuthError         credentials refused: `.credential` names what to check
│   ├── RetriableSourceError    429/5xx/timeouts: try again later (already retried with backoff)
│   ├── FatalSourceError        the source answered something we cannot use: fix the source
│   └── IncompleteSourceError   a collection did not arrive whole: nothing is deactivated
├── NotFoundError               a district, run or record that does not exist
├── SyncInProgress              another sync of the same district holds the lock
└── SyncHeld                    a safeguard held the run: approve or discard it
"""

from __future__ import annotations


class RosterSyncError(Exception):
    """Root of every error rostersync raises on purpose."""


class ConfigError(RosterSyncError):
    """Settings or a district's configuration is wrong or missing."""


class NotFoundError(RosterSyncError):
    """A district, run or record that the caller named does not exist."""


class SourceError(RosterSyncError):
    """Something went wrong talking to the roster source."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class SourceAuthError(SourceError):
    """The source refused our credentials; `credential` says which one to check."""

    def __init__(
        self, message: str, *, credential: str, url: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.credential = credential


class RetriableSourceError(SourceError):
    """A transient failure (429, 5xx, timeout) that outlived our retries; retry the sync later."""


class FatalSourceError(SourceError):
    """The source answered with something unusable (4xx, malformed body); retrying will not help."""


class IncompleteSourceError(SourceError):
    """A collection did not arrive whole, so it must not be used to infer who left."""


class SyncInProgress(RosterSyncError):
    """Another sync of this district is running; wait for it to finish."""


class SyncHeld(RosterSyncError):
    """A safeguard held the run; a person must approve or discard it."""
