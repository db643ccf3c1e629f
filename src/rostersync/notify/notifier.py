"""Who hears about a run, and which email they get.

After a scheduled or approved sync the district's data manager contacts get one email for the
run's outcome (summary, held, or failed) and, when the source looks stale, one asking whether
the ClassLink data is still being updated. A quarantined district's contacts and the vendor are
told once. Sending never raises: a mail server that is down cannot fail a sync.

Every email is worded for the district's source (`domain.issue_groups.audience_for`): a district
that pushes OneRoster files is told to fix and push its files, never to look in ClassLink.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.engine import Engine

from rostersync.config import Settings
from rostersync.domain.issue_groups import Audience, audience_for
from rostersync.errors import NotFoundError
from rostersync.notify import emails
from rostersync.notify.senders import Sender, deliver, sender_for
from rostersync.store import districts as store_districts
from rostersync.store import plan_subjects as store_plan_subjects
from rostersync.store import runs as store_runs
from rostersync.store import workflow as store_workflow

log = structlog.get_logger(__name__)


class Notifier:
    """Builds and sends the emails about one database's districts.

    Args:
        engine: The portal database.
        settings: Mail settings (sender, from address, portal URL, stale threshold, retries).
        sender: Overrides the sender the settings choose (tests pass a `MemorySender`).
        audience_of: How a district of a source kind is told to fix a record and what its
            source is called (`providers.PROVIDERS.audience`, which the service and the queue
            pass; notify knows no provider, so alone it words every pulled district for
            ClassLink).
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        sender: Sender | None = None,
        *,
        audience_of: Callable[[str], Audience] = audience_for,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.sender = sender or sender_for(settings)
        self.audience_of = audience_of

    def after_run(
        self,
        run_id: str,
        *,
        attempts: int = 1,
        newest_source_change: datetime | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """Tell the district's data managers how a run ended.

        Args:
            run_id: The finished run.
            attempts: How many attempts the run's slot took (shown in a failure email).
            newest_source_change: The newest `dateLastModified` pulled; None skips the stale
                check (the source sent none, or the run did not pull).
            now: The current time, for the stale check.

        Returns:
            The names of the emails sent (e.g. ["summary", "stale"]).
        """
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            run = store_runs.get_run(conn, run_id)
            district = store_districts.get_district(conn, run.district_id)
            integration = store_districts.get_integration(conn, district.id)
            to = list(integration.data_manager_emails)
            base = self.settings.portal_base_url
            audience = self.audience_of(integration.source_kind)
            built: list[tuple[str, emails.Email]] = []
            if run.status == "succeeded":
                open_issues = store_workflow.list_open_issues(conn, district.id)
                built.append(
                    (
                        "summary",
                        emails.summary_email(
                            district=district,
                            run=run,
                            open_issues=open_issues,
                            portal_base_url=base,
                            to=to,
                            audience=audience,
                        ),
                    )
                )
                if newest_source_change is not None and now - newest_source_change > timedelta(
                    days=self.settings.stale_after_days
                ):
                    built.append(
                        (
                            "stale",
                            emails.stale_email(
                                district=district,
                                run=run,
                                newest_change=newest_source_change,
                                stale_after_days=self.settings.stale_after_days,
                                now=now,
                                portal_base_url=base,
                                to=to,
                                audience=audience,
                            ),
                        )
                    )
            elif run.status == "held":
                built.append(
                    (
                        "held",
                        emails.held_email(
                            district=district,
                            run=run,
                            held_reason=_held_reason(conn, run_id),
                            portal_base_url=base,
                            to=to,
                            # What already needs fixing, whatever the run's decision.
                            open_issues=store_workflow.list_open_issues(conn, district.id),
                            audience=audience,
                            **_held_deactivations(conn, district.id, run_id),
                        ),
                    )
                )
            elif run.status == "failed":
                built.append(
                    (
                        "failed",
                        emails.failed_email(
                            district=district,
                            run=run,
                            attempts=attempts,
                            portal_base_url=base,
                            to=to,
                            audience=audience,
                        ),
                    )
                )
        if newest_source_change is None and run.status == "succeeded":
            log.info("notify.stale_check_skipped", run_id=run_id, why="no dateLastModified")
        return self._send_all(built, district_id=district.id, run_id=run_id)

    def district_quarantined(
        self, district_id: str, *, failures: int, reason: str, schedule: str, run_id: str | None
    ) -> list[str]:
        """Tell the district's data managers and the vendor that its syncs backed off to daily."""
        with self.engine.connect() as conn:
            district = store_districts.get_district(conn, district_id)
            integration = store_districts.get_integration(conn, district.id)
            run = store_runs.get_run(conn, run_id) if run_id else None
        to = [*integration.data_manager_emails, *self.settings.vendor_alert_addresses]
        email = emails.quarantined_email(
            district=district,
            run=run,
            failures=failures,
            reason=reason,
            schedule=schedule,
            portal_base_url=self.settings.portal_base_url,
            to=to,
            audience=self.audience_of(integration.source_kind),
        )
        return self._send_all([("quarantined", email)], district_id=district_id, run_id=run_id)

    def _send_all(
        self, built: Sequence[tuple[str, emails.Email]], *, district_id: str, run_id: str | None
    ) -> list[str]:
        sent: list[str] = []
        for name, email in built:
            if not email.to:
                # Ids and counts only: addresses and contents are the district's data.
                log.info("notify.no_recipients", district_id=district_id, run_id=run_id, kind=name)
                continue
            message = emails.compose(email, mail_from=self.settings.mail_from)
            ok = deliver(
                self.sender,
                message,
                attempts=self.settings.mail_send_attempts,
                delay=self.settings.mail_retry_delay_seconds,
            )
            log.info(
                "notify.sent" if ok else "notify.gave_up",
                district_id=district_id,
                run_id=run_id,
                kind=name,
                recipients=len(email.to),
            )
            if ok:
                sent.append(name)
        return sent


def _held_reason(conn: Any, run_id: str) -> str | None:
    try:
        return store_workflow.get_plan(conn, run_id).held_reason
    except NotFoundError:
        return None


# People first: a held run's deactivations a person checks are its students and educators.
_DEACTIVATED_FIRST = ("student", "educator", "class", "enrollment")


def _held_deactivations(conn: Any, district_id: str, run_id: str) -> dict[str, Any]:
    """The first deactivations a held run planned, named from the portal's records (one query
    per kind for those few), and how many it planned in all (from the plan's summary, which
    keeps the first sourcedIds of each kind and outcome, as the run's page reads them)."""
    try:
        summary = store_workflow.get_plan(conn, run_id).summary
    except NotFoundError:
        return {}
    kinds = summary.get("kinds") or {}
    planned: list[tuple[str, str]] = []
    total = 0
    for kind, outcomes in kinds.items():
        outcome = outcomes.get("deactivated") if isinstance(outcomes, dict) else None
        if isinstance(outcome, dict):
            total += int(outcome.get("count", 0))
            planned += [(kind, str(sid)) for sid in outcome.get("sourced_ids") or ()]
    order = {kind: n for n, kind in enumerate(_DEACTIVATED_FIRST)}
    planned.sort(key=lambda change: (order.get(change[0], len(order)), change[1]))
    shown = planned[: emails.HELD_EXAMPLES]
    subjects = store_plan_subjects.lookup_subjects(conn, district_id, shown)
    changes = [_named(kind, sid, subjects.get((kind, sid))) for kind, sid in shown]
    return {"deactivations": changes, "deactivation_count": max(total, len(planned))}


def _named(
    kind: str, sourced_id: str, found: store_plan_subjects.PlanSubject | None
) -> emails.NamedChange:
    """A planned change by its record's name, role, student ID and school, when the portal
    holds the record (`store.plan_subjects.PlanSubject`)."""
    if found is None:
        return emails.NamedChange(kind=kind, sourced_id=sourced_id)
    student_id = f"ID {found.student_id}" if found.student_id else ""
    details = ", ".join(p for p in (found.role, student_id, found.school) if p)
    return emails.NamedChange(kind=kind, sourced_id=sourced_id, name=found.name, details=details)
