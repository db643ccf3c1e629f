"""Delta sync: pull only what changed since the district's watermark, and apply just that.

A delta asks every collection for `dateLastModified>'<watermark − overlap>'`. The overlap window
re-reads records stamped around the watermark, because servers differ on `>` versus `>=` and
on clock granularity; re-read records that did not change plan as unchanged (content hashes), so
the overlap costs requests, never spurious updates. A delta is never a snapshot: `tobedeleted`
records are removals, but nobody is deactivated for being absent. The watermark advances only
in the transaction that applies the run (see `store.delta.advance_watermark`), so a failed or
held delta is simply pulled again next time. Full syncs still run on their schedule and are the
only thing that notices records that vanished. See docs/decisions/0009-delta-sync.md.

A source with a feed of changes instead of a date filter (Clever's events) continues from its
stored feed position: `sync.change_feed`, docs/decisions/0043.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy.engine import Engine

from rostersync.domain.rules import DistrictRules
from rostersync.domain.safeguards import Safeguards
from rostersync.errors import ConfigError, FullSyncRequired
from rostersync.store import delta as store_delta
from rostersync.sync.change_feed import ChangeFeedSource, execute_feed_delta
from rostersync.sync.events import Mode, Observer
from rostersync.sync.pipeline import SyncReport, execute_sync
from rostersync.sync.sources import RosterSource

__all__ = ["OVERLAP", "FilterableSource", "execute_delta", "since_filter"]

# Re-read this far behind the watermark: covers `>` vs `>=` and second-rounded stamps.
OVERLAP = timedelta(minutes=5)


_NO_WATERMARK = (
    "this district has no delta watermark yet: run a full sync first "
    "(`rostersync sync <district>`); a delta only adds what changed since the last "
    "successful sync"
)


@runtime_checkable
class FilterableSource(RosterSource, Protocol):
    """A roster source that sends a OneRoster `filter=` with every collection request."""

    filter: str | None


def since_filter(watermark: str, overlap: timedelta = OVERLAP) -> str:
    """The OneRoster filter of a delta: `dateLastModified>'<watermark − overlap>'`.

    Args:
        watermark: The newest `dateLastModified` applied (UTC text, as `store.delta` keeps it).
        overlap: How far behind the watermark to start.

    Raises:
        ValueError: The watermark is not a timestamp.
    """
    moment = store_delta.parse_modified(watermark)
    if moment is None:
        raise ValueError(f"not a dateLastModified timestamp: {watermark!r}")
    # Whole seconds: the shape every server compares, and flooring only widens the window.
    since = (moment - overlap).replace(microsecond=0)
    return f"dateLastModified>'{store_delta.format_modified(since)}'"


def execute_delta(
    engine: Engine,
    *,
    district_id: str,
    rules: DistrictRules,
    source: RosterSource,
    trigger: str = "delta",
    observers: Sequence[Observer] = (),
    safeguards: Safeguards | None = None,
    holder: str = "rostersync",
    overlap: timedelta = OVERLAP,
) -> SyncReport:
    """Run one delta sync of a district: filter the source from its watermark, then apply.

    The source's `filter` is set to the delta filter (it must be a `FilterableSource`: a
    OneRoster REST source, not a CSV bundle), or a `ChangeFeedSource` continues its feed
    (`sync.change_feed`; one that cannot runs a full sync and says why). The run goes through
    the same pipeline as a full sync, so locks, safeguards, issues and audit rows behave the same.

    Args:
        engine: The portal database.
        district_id: The district.
        rules: The district's questionnaire answers.
        source: A REST source of the district's roster.
        trigger: Kept on the run (`delta` unless a caller says otherwise).
        observers: Hear the run's events (`sync.events`).
        safeguards: The district's thresholds (defaults when None).
        holder: Who takes the district's lock.
        overlap: How far behind the watermark the filter starts.

    Returns:
        The run's report; `failed` and `held` runs leave the watermark where it was.

    Raises:
        FullSyncRequired: The district has no watermark yet: no full sync has succeeded.
        ConfigError: The source cannot filter (a CSV bundle).
        SyncInProgress: Another run of the district holds the lock.
    """
    with engine.connect() as conn:
        mark = store_delta.get_watermark(conn, district_id)
    if mark is None or mark.last_full_sync_at is None:
        raise FullSyncRequired(_NO_WATERMARK)
    if isinstance(source, ChangeFeedSource):
        return execute_feed_delta(
            engine,
            district_id=district_id,
            rules=rules,
            source=source,
            mark=mark,
            trigger=trigger,
            observers=observers,
            safeguards=safeguards,
            holder=holder,
        )
    if not isinstance(source, FilterableSource):
        raise ConfigError(
            f"a {type(source).__name__} cannot pull a delta (it cannot filter by "
            "dateLastModified); use the district's OneRoster REST source or run a full sync"
        )
    if mark.watermark is None:
        raise FullSyncRequired(_NO_WATERMARK)
    source.filter = since_filter(mark.watermark, overlap)
    return execute_sync(
        engine,
        district_id=district_id,
        rules=rules,
        source=source,
        trigger=trigger,
        observers=observers,
        mode=Mode.APPLY,
        safeguards=safeguards,
        holder=holder,
        delta=True,
    )
