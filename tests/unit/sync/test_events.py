"""A run's events: failure kinds from the exception tree, fan-out, and scoped observers."""

from __future__ import annotations

import pytest

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
from rostersync.store.progress_tables import PHASES
from rostersync.sync.events import (
    CollectionPulled,
    Event,
    FailureKind,
    Mode,
    Phase,
    PhaseChanged,
    RunFailed,
    RunStarted,
    counting,
    failure_kind,
    fan_out,
    starting,
)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (SourceAuthError("refused", credential="key"), FailureKind.AUTH),
        (RetriableSourceError("429", status=429), FailureKind.RATE_LIMIT),
        (RetriableSourceError("503", status=503), FailureKind.UNAVAILABLE),
        (RetriableSourceError("timed out"), FailureKind.UNAVAILABLE),
        (BundleError("bad row", file="users.csv", line=3), FailureKind.VALIDATION),
        (FatalSourceError("not JSON"), FailureKind.UNUSABLE),
        (IncompleteSourceError("short"), FailureKind.INCOMPLETE),
        (SourceError("other"), FailureKind.SOURCE),
        (DatabaseUnavailable("gone"), FailureKind.STORAGE),
        (SourceChanged("changed", differences=2), FailureKind.CHANGED),
        (RunNotPending("decided"), FailureKind.NOT_PENDING),
        (SyncInProgress("busy"), FailureKind.LOCKED),
        (ConfigError("no key"), FailureKind.CONFIG),
        (ValueError("bug"), FailureKind.INTERNAL),
    ],
)
def test_each_failure_has_the_kind_its_exception_names(
    error: BaseException, kind: FailureKind
) -> None:
    assert failure_kind(error) is kind


def test_only_a_rate_limit_or_an_unavailable_source_is_retriable() -> None:
    retriable = {k for k in FailureKind if RunFailed("r", k, "why").retriable}
    assert retriable == {FailureKind.RATE_LIMIT, FailureKind.UNAVAILABLE}


def test_the_phases_are_the_stored_ones_in_order() -> None:
    assert tuple(Phase) == PHASES
    assert Phase.WRITING == "writing"


def test_fan_out_tells_every_observer_even_after_one_fails() -> None:
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("observer bug")

    tell = fan_out([broken, heard.append])
    event = PhaseChanged("r", Phase.PLANNING)
    tell(event)
    assert heard == [event]


def test_the_callback_adapters_hear_only_their_event() -> None:
    counts: list[tuple[str, int]] = []
    runs: list[str] = []
    tell = fan_out([counting(lambda c, n: counts.append((c, n))), starting(runs.append)])
    tell(RunStarted("r1", "d1", Mode.APPLY, "manual"))
    tell(PhaseChanged("r1", Phase.PULLING))
    tell(CollectionPulled("r1", "orgs", 3))
    assert counts == [("orgs", 3)] and runs == ["r1"]
