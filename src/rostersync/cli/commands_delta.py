"""CLI command for delta syncs: `rostersync delta <district> [--json]`.

Parse, call `Services.runs.delta`, render; nothing else happens here.
"""

from __future__ import annotations

import typer

from rostersync.cli import outcome, render
from rostersync.cli.common import service as _service
from rostersync.cli.failures import Json


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""

    @app.command("delta")
    def delta(district: str, as_json: Json = False) -> None:
        """Apply only what changed in the district's source since the last successful sync.

        ClassLink is asked by dateLastModified, Clever for its events since the last sync.
        Records marked tobedeleted (deleted in Clever) are deactivated; nobody is deactivated
        for being absent (the scheduled full sync notices those). When Clever no longer keeps
        the events since then (30 days), a full sync runs instead and says so.
        """
        service = _service()
        report = service.runs.delta(district)
        if as_json:
            render.print_json(render.report_json(report))
        else:
            render.print_report(
                report,
                title=f"Delta sync of {district}",
                audience=service.districts.audience(district),
            )
            render.print_status_reason(report)
            if report.status == "held":
                outcome.next_commands(report)
        outcome.finish(report)
