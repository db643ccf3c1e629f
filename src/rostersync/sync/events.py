"""What a sync run tells whoever listens: typed events, the observers that hear them.

The pipeline reports its own progress instead of being watched through its source: the run
page's recorder, the job queue (why a run failed, how fresh the roster was) and the CLI's
progress bars are observers. A run tells, in order: `RunStarted` (once it holds the district's
lock, before the first request), `PhaseChanged` as it enters each phase, `CollectionPulled`
while records arrive, `NewestChange` once the plan is made, `RunFailed` if it fails, then
`PhaseChanged(DONE)` and `RunFinished` however it ended. A run refused its lock tells nothing.

Observers are called on the run's own thread, in the order given; an observer that raises is
logged and skipped, never a reason for the run to fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import structlog

from rostersync.errors import (
    ConfigError,
    DatabaseUnavailable,
    FatalSourceError,
    IncompleteSourceError,
    RetriableSourceError,
    RunNotPending,
    SourceAuthError,
    SourceChanged,
    SourceError,
    SyncInProgress,
)
from rostersync.oneroster.bundle_limits import BundleError

log = structlog.get_logger(__name__)


class Phase(StrEnum):
    """Where a run is; phases only move forward. The values are the stored ones."""

    PULLING = "pulling"
    VALIDATING = "validating"
    PLANNING = "planning"
    WRITING = "writing"
    DONE = "done"


class Mode(StrEnum):
    """What a run does with its plan."""

    APPLY = "apply"  # write it, unless a safeguard holds it
    PREVIEW = "preview"  # store it for a person's decision, write no roster row


class RunStatus(StrEnum):
    """A run's status, as stored on the run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PREVIEWED = "previewed"
    HELD = "held"
    SKIPPED = "skipped"
    APPROVED = "approved"


class FailureKind(StrEnum):
    """Why a run failed, from the exception tree of `rostersync.errors`."""

    AUTH = "auth"  # the source refused the credentials
    RATE_LIMIT = "rate_limit"  # the source kept answering 429
    UNAVAILABLE = "unavailable"  # 5xx or timeouts outlived the retries
    VALIDATION = "validation"  # a bundle refused for its content
    UNUSABLE = "unusable"  # the source answered something we cannot use
    INCOMPLETE = "incomplete"  # a collection did not arrive whole
    SOURCE = "source"  # another failure talking to the source
    STORAGE = "storage"  # the portal database went away mid-run
    CHANGED = "changed"  # an approval found a different plan
    NOT_PENDING = "not_pending"  # an approval found the run decided already
    LOCKED = "locked"  # another run took the district's lock
    CONFIG = "config"  # the district's configuration is wrong
    INTERNAL = "internal"  # a programming error


# Most specific first: the first class the exception is an instance of names its kind.
_KINDS: tuple[tuple[type[BaseException], FailureKind], ...] = (
    (SourceAuthError, FailureKind.AUTH),
    (BundleError, FailureKind.VALIDATION),
    (FatalSourceError, FailureKind.UNUSABLE),
    (IncompleteSourceError, FailureKind.INCOMPLETE),
    (RetriableSourceError, FailureKind.UNAVAILABLE),
    (SourceError, FailureKind.SOURCE),
    (DatabaseUnavailable, FailureKind.STORAGE),
    (SourceChanged, FailureKind.CHANGED),
    (RunNotPending, FailureKind.NOT_PENDING),
    (SyncInProgress, FailureKind.LOCKED),
    (ConfigError, FailureKind.CONFIG),
)
RETRIABLE = frozenset({FailureKind.RATE_LIMIT, FailureKind.UNAVAILABLE})


def failure_kind(exc: BaseException) -> FailureKind:
    """The kind of failure an exception is; a 429 that outlived the retries is a rate limit."""
    if isinstance(exc, RetriableSourceError) and exc.status == 429:
        return FailureKind.RATE_LIMIT
    return next((kind for cls, kind in _KINDS if isinstance(exc, cls)), FailureKind.INTERNAL)


@dataclass(frozen=True, slots=True)
class RunStarted:
    """The run holds the district's lock; nothing has been pulled yet."""

    run_id: str
    district_id: str
    mode: Mode
    trigger: str


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    """The run entered `phase`."""

    run_id: str
    phase: Phase


@dataclass(frozen=True, slots=True)
class CollectionPulled:
    """`records` of `collection` have arrived so far."""

    run_id: str
    collection: str
    records: int


@dataclass(frozen=True, slots=True)
class NewestChange:
    """The newest `dateLastModified` of the pull (UTC); None when no record carried one."""

    run_id: str
    newest: datetime | None


@dataclass(frozen=True, slots=True)
class RunFailed:
    """The run failed; `message` is what the run's record says."""

    run_id: str
    kind: FailureKind
    message: str

    @property
    def retriable(self) -> bool:
        """A later attempt may succeed without anyone fixing anything."""
        return self.kind in RETRIABLE


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run ended with `status`, after `seconds`; the lock is released."""

    run_id: str
    status: RunStatus
    seconds: float


Event = RunStarted | PhaseChanged | CollectionPulled | NewestChange | RunFailed | RunFinished


class Observer(Protocol):
    """Hears a run's events, on the run's thread."""

    def __call__(self, event: Event) -> None: ...


def fan_out(observers: Iterable[Observer]) -> Observer:
    """One observer that tells each of `observers` in turn; one that raises is logged, skipped."""
    listeners = tuple(observers)

    def tell(event: Event) -> None:
        for observer in listeners:
            try:
                observer(event)
            except Exception as exc:
                log.warning(
                    "sync.observer_failed",
                    event_type=type(event).__name__,
                    error_type=type(exc).__name__,
                )

    return tell


def counting(progress: Callable[[str, int], None]) -> Observer:
    """An observer passing each `CollectionPulled` on as `progress(collection, records)`."""

    def call(event: Event) -> None:
        if isinstance(event, CollectionPulled):
            progress(event.collection, event.records)

    return call


def starting(on_run: Callable[[str], None]) -> Observer:
    """An observer passing the run id of `RunStarted` on to `on_run`."""

    def call(event: Event) -> None:
        if isinstance(event, RunStarted):
            on_run(event.run_id)

    return call


__all__ = [
    "CollectionPulled",
    "Event",
    "FailureKind",
    "Mode",
    "NewestChange",
    "Observer",
    "Phase",
    "PhaseChanged",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "RunStatus",
    "counting",
    "failure_kind",
    "fan_out",
    "starting",
]
