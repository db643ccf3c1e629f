"""A person's go-ahead for a previewed or held run: checked against the fresh pull's plan, and
recorded in the apply's transaction (docs/decisions/0005)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from rostersync.errors import RunNotPending, SourceChanged
from rostersync.store import workflow as store_workflow
from rostersync.sync.events import RunStatus
from rostersync.sync.report import PENDING, differences

__all__ = ["Approval", "approve", "check"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """A person's go-ahead for a previewed or held run, checked against a fresh pull."""

    run_id: str
    fingerprint: str
    items: list[str] | None
    total: int
    actor: str


def check(approval: Approval | None, fingerprint: str, items: list[str] | None, total: int) -> None:
    """An approved plan is applied only if the fresh pull plans exactly the same changes.

    Raises:
        SourceChanged: The fresh plan differs; nothing is written.
    """
    if approval is not None and fingerprint != approval.fingerprint:
        n = differences(approval.items, approval.total, items, total)
        raise SourceChanged(
            f"the roster changed since this preview ({n} differences); preview again",
            differences=n,
        )


def approve(
    conn: Connection, district_id: str, run_id: str, approval: Approval, now: datetime
) -> None:
    """Mark the approved run decided, in the apply's transaction, unless someone else did.

    Raises:
        RunNotPending: Someone else decided it meanwhile; nothing is written.
    """
    if not store_workflow.decide_run(
        conn,
        run_id=approval.run_id,
        pending=PENDING,
        status=RunStatus.APPROVED,
        actor=approval.actor,
        now=now,
    ):
        raise RunNotPending(
            f"run {approval.run_id} was decided while it was being applied; nothing was written"
        )
    store_workflow.audit(
        conn,
        district_id=district_id,
        run_id=approval.run_id,
        actor=approval.actor,
        action="approve",
        entity_type="sync_run",
        entity_id=approval.run_id,
        changes={"applied_by_run": run_id},
        now=now,
    )
