"""CLI commands for preview, approve, discard, revalidate, open issues and go-live.

Each command parses, calls one `RosterSync` method, and renders; nothing else happens here.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rostersync.cli import render
from rostersync.config import get_settings
from rostersync.errors import RosterSyncError
from rostersync.logs import configure_logging
from rostersync.service import RosterSync
from rostersync.sync.pipeline import SyncReport

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
Actor = Annotated[str, typer.Option("--actor", help="Who decides, for the audit log.")]
DEFAULT_ACTOR = "cli"


def _service() -> RosterSync:
    settings = get_settings()
    configure_logging(settings)
    return RosterSync(settings)


def _fail(exc: RosterSyncError) -> None:
    render.console.print(f"[bold red]Error:[/] {exc}")
    raise typer.Exit(2)


def _show(report: SyncReport, title: str, as_json: bool) -> None:
    if as_json:
        render.print_json(render.report_json(report))
    else:
        render.print_report(report, title=title)
        _print_plan(report)
    if report.status == "failed":
        raise typer.Exit(1)


def _print_plan(report: SyncReport) -> None:
    """Matches (with their key) and the hold or skip reason, which the counts table lacks."""
    if report.reason:
        render.console.print(f"[bold yellow]{report.status.capitalize()}:[/] {report.reason}")
    rows: list[dict[str, Any]] = [
        {"kind": kind, **item}
        for kind, plan in report.plan.get("kinds", {}).items()
        for item in plan.get("matched", {}).get("items", [])
    ]
    if rows:
        render.console.print(
            render.rows_table("Existing accounts matched", rows, ["kind", "sourced_id", "key"])
        )
    if report.status in ("previewed", "held"):
        render.console.print(
            f"Approve with `rostersync approve {report.run_id}` or discard with "
            f"`rostersync discard {report.run_id}`."
        )


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""

    @app.command("preview")
    def preview(district: str, as_json: Json = False) -> None:
        """Compute what a sync would change, without writing, and keep it for approval."""
        try:
            report = _service().preview_sync(district)
        except RosterSyncError as exc:
            _fail(exc)
            return
        _show(report, f"Preview of {district}", as_json)

    @app.command("approve")
    def approve(run_id: str, actor: Actor = DEFAULT_ACTOR, as_json: Json = False) -> None:
        """Apply a previewed or held run, if the roster has not changed since."""
        try:
            report = _service().approve_run(run_id, actor)
        except RosterSyncError as exc:
            _fail(exc)
            return
        _show(report, f"Approved run {run_id}", as_json)

    @app.command("discard")
    def discard(run_id: str, actor: Actor = DEFAULT_ACTOR, as_json: Json = False) -> None:
        """Discard a previewed or held run; the portal stays as it is."""
        try:
            run = _service().discard_run(run_id, actor)
        except RosterSyncError as exc:
            _fail(exc)
            return
        if as_json:
            render.print_json(run)
        else:
            render.console.print(f"Run {run.id} discarded; nothing was written.")

    @app.command("revalidate")
    def revalidate(district: str, as_json: Json = False) -> None:
        """Re-check a district after it fixed its data: provision what passes, close issues."""
        try:
            report = _service().revalidate(district)
        except RosterSyncError as exc:
            _fail(exc)
            return
        _show(report, f"Revalidation of {district}", as_json)

    @app.command("open-issues")
    def open_issues(
        district: str,
        kind: Annotated[str | None, typer.Option(help="student, educator, class, …")] = None,
        as_json: Json = False,
    ) -> None:
        """List a district's open validation issues: the record, the problem and the fix."""
        try:
            rows = _service().open_issues(district, kind)
        except RosterSyncError as exc:
            _fail(exc)
            return
        if as_json:
            render.print_json(rows)
            return
        render.console.print(
            render.rows_table(
                f"Open issues of {district}",
                rows,
                ["entity", "sourced_id", "field", "severity", "message", "fix", "created_at"],
            )
        )

    @app.command("go-live")
    def go_live(district: str, actor: Actor = DEFAULT_ACTOR, as_json: Json = False) -> None:
        """Let the district's people sign in from now on."""
        try:
            record = _service().set_live(district, actor)
        except RosterSyncError as exc:
            _fail(exc)
            return
        if as_json:
            render.print_json(record)
        else:
            render.console.print(f"{record.slug} is {record.status}.")
