"""CLI command for delta syncs: `rostersync delta <district> [--json]`.

Parse, call `RosterSync.delta_sync`, render; nothing else happens here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rostersync.cli import render
from rostersync.config import get_settings
from rostersync.errors import RosterSyncError
from rostersync.logs import configure_logging
from rostersync.service import RosterSync

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""

    @app.command("delta")
    def delta(district: str, as_json: Json = False) -> None:
        """Apply only what changed in ClassLink since the last successful sync.

        Records marked tobedeleted are deactivated; nobody is deactivated for being absent
        (the scheduled full sync notices those).
        """
        settings = get_settings()
        configure_logging(settings)
        try:
            report = RosterSync(settings).delta_sync(district)
        except RosterSyncError as exc:
            render.console.print(f"[bold red]Error:[/] {exc}")
            raise typer.Exit(2) from None
        if as_json:
            render.print_json(render.report_json(report))
        else:
            render.print_report(report, title=f"Delta sync of {district}")
            if report.reason:
                render.console.print(
                    f"[bold yellow]{report.status.capitalize()}:[/] {report.reason}"
                )
        if report.status == "failed":
            raise typer.Exit(1)
