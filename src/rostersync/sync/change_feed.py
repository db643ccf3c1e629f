"""Deltas from a feed of changes (Clever's Events API) instead of a `dateLastModified` filter.

A `ChangeFeedSource` knows where its server's feed stood for what it pulled (`position`): a full
pull reads it before its first request for records, a delta the newest change it read. After a
run of such a source SUCCEEDED, `keep_position` stores that position (`store.delta`), in its own
transaction right after the run's, because the pipeline knows no feeds. So the position only
ever lags what was applied: a crash between the two makes the next delta re-read changes already
applied, which plan as unchanged (content hashes), or, after a full sync (whose apply cleared the
older position), run full. A failed, held or previewed run stores nothing.

`execute_feed_delta` runs a delta from the stored position. When there is none (the position
was lost, or the events were refused), or the server no longer keeps the changes after it
(Clever keeps 30 days), it runs a full sync instead and says why: on the report (`reason`), the
run (trigger `delta-fallback`) and an audit entry of that run. A data manager wants a current
roster, and a full sync is exactly what an operator would be told to start, under the same
safeguards (a big change is held for review, never applied unseen). See docs/decisions/0043.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import structlog
from sqlalchemy.engine import Engine

from rostersync.domain.rules import DistrictRules
from rostersync.domain.safeguards import Safeguards
from rostersync.store import delta as store_delta
from rostersync.store import workflow as store_workflow
from rostersync.store.db import SYNC_WRITER_WAIT_SECONDS, for_writing
from rostersync.sync.events import Event, Mode, Observer, RunFinished, RunStatus
from rostersync.sync.pipeline import SyncReport, execute_sync
from rostersync.sync.sources import RosterSource

__all__ = ["FALLBACK", "RAN_FULL", "ChangeFeedSource", "execute_feed_delta", "keep_position"]

log = structlog.get_logger(__name__)

# The trigger of a delta that ran as a full sync, and the action of its audit entry saying why.
FALLBACK = "delta-fallback"
RAN_FULL = "delta_ran_full"


@runtime_checkable
class ChangeFeedSource(RosterSource, Protocol):
    """A roster source whose server keeps a feed of changes a delta continues from.

    Attributes:
        retention: How long the server keeps its changes.
    """

    retention: timedelta

    def follow(self, position: store_delta.FeedPosition) -> str | None:
        """Pull only the changes after `position`; None, or why only a full sync will do."""
        ...

    def position(self) -> store_delta.FeedPosition | None:
        """Where the feed stood for the records pulled; None when unknown."""
        ...


def keep_position(engine: Engine, district_id: str, source: ChangeFeedSource) -> Observer:
    """An observer storing the source's position once its run has succeeded."""

    def hear(event: Event) -> None:
        if not isinstance(event, RunFinished) or event.status != RunStatus.SUCCEEDED:
            return
        position = source.position()
        if position is None:
            return
        writer = for_writing(engine, wait_seconds=SYNC_WRITER_WAIT_SECONDS)
        with writer.begin() as conn:
            kept = store_delta.record_position(
                conn, district_id=district_id, position=position, now=datetime.now(UTC)
            )
        log.info("delta.position_kept", district_id=district_id, run_id=event.run_id, kept=kept)

    return hear


def execute_feed_delta(
    engine: Engine,
    *,
    district_id: str,
    rules: DistrictRules,
    source: ChangeFeedSource,
    mark: store_delta.Watermark,
    trigger: str,
    observers: Sequence[Observer],
    safeguards: Safeguards | None,
    holder: str,
) -> SyncReport:
    """One delta from the source's feed, or a full sync when the feed cannot continue.

    Args:
        mark: The district's watermark row (a full sync has succeeded).
        Others: As `sync.delta.execute_delta`.

    Returns:
        The run's report; a full sync's carries why it ran (`reason`) before any hold reason.
    """
    told = [*observers, keep_position(engine, district_id, source)]
    if mark.position is None:
        why: str | None = (
            "no position in the source's feed of changes was kept since the last full sync "
            "(it was lost, or the source refused its feed)"
        )
    else:
        why = source.follow(mark.position)
    if why is not None:
        log.warning("delta.ran_full", district_id=district_id)
    try:
        report = execute_sync(
            engine,
            district_id=district_id,
            rules=rules,
            source=source,
            trigger=trigger if why is None else FALLBACK,
            observers=told,
            mode=Mode.APPLY,
            safeguards=safeguards,
            holder=holder,
            delta=why is None,
        )
    except BaseException:
        # A run refused before its pull (another holds the lock) leaves the source unread,
        # and `follow` may have opened a connection: close it here, as a pull would have.
        close = getattr(source, "close", None)
        if callable(close):
            close()
        raise
    if why is None:
        return report
    note = f"{why}: this delta ran as a full sync instead"
    report.reason = f"{note}; {report.reason}" if report.reason else note
    # Kept with the run (its audit entries), for the run page and whoever reads the log later.
    writer = for_writing(engine, wait_seconds=SYNC_WRITER_WAIT_SECONDS)
    with writer.begin() as conn:
        store_workflow.audit(
            conn,
            district_id=district_id,
            run_id=report.run_id,
            actor=f"sync run {report.run_id}",
            action=RAN_FULL,
            entity_type="sync_run",
            entity_id=report.run_id,
            changes={"reason": note},
            now=datetime.now(UTC),
        )
    return report
