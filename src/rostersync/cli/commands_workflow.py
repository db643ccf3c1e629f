"""CLI commands for preview, approve, discard, revalidate, open issues and go-live.

Each command parses, calls one `Services` method, and renders; nothing else happens here.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rostersync.cli import listing, outcome, render
from rostersync.cli.common import service as _service
from rostersync.cli.failures import Json
from rostersync.sync.pipeline import SyncReport

Actor = Annotated[str, typer.Option("--actor", help="Who decides, for the audit log.")]
DEFAULT_ACTOR = "cli"


def _show(report: SyncReport, title: str, as_json: bool) -> None:
    if as_json:
        render.print_json(render.report_json(report))
    else:
        audience = _service().districts.audience(report.district_id)
        render.print_report(report, title=title, audience=audience)
        _print_plan(report)
    outcome.finish(report)


def _print_plan(report: SyncReport) -> None:
    """Matches (with their key) and the hold or skip reason, which the counts table lacks."""
    render.print_status_reason(report)
    rows: list[dict[str, Any]] = [
        {"kind": kind, **item}
        for kind, plan in report.plan.get("kinds", {}).items()
        for item in plan.get("matched", {}).get("items", [])
    ]
    if rows:
        render.console.print(
            render.rows_table("Existing accounts matched", rows, ["kind", "sourced_id", "key"])
        )
    if report.status == "held":
        outcome.next_commands(report)
    elif report.status == "previewed":
        render.say(
            f"Approve with `rostersync approve {report.run_id}` or discard with "
            f"`rostersync discard {report.run_id}`."
        )


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""

    @app.command("preview")
    def preview(district: str, as_json: Json = False) -> None:
        """Compute what a sync would change, without writing, and keep it for approval."""
        report = _service().runs.preview(district)
        _show(report, f"Preview of {district}", as_json)

    @app.command("approve")
    def approve(run_id: str, actor: Actor = DEFAULT_ACTOR, as_json: Json = False) -> None:
        """Apply a previewed or held run, if the roster has not changed since."""
        report = _service().runs.approve(run_id, actor)
        _show(report, f"Approved run {run_id}", as_json)

    @app.command("discard")
    def discard(run_id: str, actor: Actor = DEFAULT_ACTOR, as_json: Json = False) -> None:
        """Discard a previewed or held run; the portal stays as it is."""
        run = _service().runs.discard(run_id, actor)
        if as_json:
            render.print_json(run)
        else:
            render.say(f"Run {run.id} discarded; nothing was written.")

    @app.command("revalidate")
    def revalidate(district: str, as_json: Json = False) -> None:
        """Re-check a district after it fixed its data: provision what passes, close issues."""
        report = _service().runs.revalidate(district)
        _show(report, f"Revalidation of {district}", as_json)

    @app.command("open-issues")
    def open_issues(
        district: str,
        kind: Annotated[str | None, typer.Option(help="student, educator, class, …")] = None,
        limit: listing.Limit = 50,
        every: listing.All = False,
        as_json: Json = False,
    ) -> None:
        """List a district's open validation issues: the record, the problem and the fix."""
        rows = _service().runs.open_issues(district, kind)
        if as_json:
            render.print_json(rows)
            return
        render.console.print(
            render.issues_table(
                rows,
                limit=limit,
                title=f"Open issues of {district}",
                audience=_service().districts.audience(district),
            )
        )
        footer = listing.showing(len(rows[:limit]), len(rows))
        if footer:
            render.say(footer)

    @app.command("go-live")
    def go_live(district: str, actor: Actor = DEFAULT_ACTOR, as_json: Json = False) -> None:
        """Let the district's people sign in from now on."""
        record = _service().districts.set_live(district, actor)
        if as_json:
            render.print_json(record)
        else:
            render.say(f"{record.slug} is {record.status}.")
