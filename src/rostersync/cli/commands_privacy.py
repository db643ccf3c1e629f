"""CLI commands for data protection requests (security.md §5).

    rostersync privacy export-student <district> <student> [--out FILE]
    rostersync privacy purge-district <district> --confirm <district> --reason "..."
    rostersync privacy disposals [--json]

Parse, call the service API, render; nothing else happens here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rostersync.cli import render
from rostersync.cli.common import service as _service
from rostersync.cli.failures import Json

Actor = Annotated[str, typer.Option("--actor", help="Who asked, for the audit log.")]


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
    privacy = typer.Typer(help="Data protection: one student's export, a district's purge.")
    app.add_typer(privacy, name="privacy")

    @privacy.command("export-student")
    def export_student(
        district: str,
        student: Annotated[str, typer.Argument(help="The portal id or the ClassLink sourcedId.")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Write the JSON here (mode 0600).")
        ] = None,
        actor: Actor = "cli",
    ) -> None:
        """Everything held about one student, as JSON, for a parent's or district's request."""
        export = _service().privacy.export_student(district, student, actor=actor)
        text = json.dumps(export, indent=2, sort_keys=True)
        if out is None:
            typer.echo(text)
            return
        out.touch(mode=0o600)
        out.write_text(text + "\n", encoding="utf-8")
        rows = sum(len(r) for r in export["tables"].values())
        render.say(f"Wrote {rows} rows from {len(export['tables'])} tables to {out}")

    @privacy.command("purge-district")
    def purge_district(
        district: str,
        confirm: Annotated[str, typer.Option("--confirm", help="The district's slug, again.")],
        reason: Annotated[str, typer.Option("--reason", help="Why, for the disposal record.")],
        actor: Actor = "cli",
        as_json: Json = False,
    ) -> None:
        """Remove every row and file of a district, keeping only a disposal record."""
        disposal = _service().privacy.purge_district(
            district, confirm=confirm, actor=actor, reason=reason
        )
        summary = {
            "id": disposal.id,
            "district": disposal.district_slug,
            "at": disposal.at.isoformat(),
            "rows": disposal.rows,
            "files": disposal.files,
        }
        if as_json:
            render.print_json(summary)
            return
        render.say(
            f"Purged {disposal.district_slug}: {disposal.total_rows} rows in "
            f"{len(disposal.rows)} tables, {sum(disposal.files.values())} files. "
            f"Disposal record {disposal.id}."
        )

    @privacy.command("disposals")
    def disposals(as_json: Json = False) -> None:
        """Every district purge ever made, newest first."""
        found = _service().privacy.disposals()
        rows = [
            {
                "id": d.id,
                "district": d.district_slug,
                "at": d.at.isoformat(),
                "actor": d.actor,
                "reason": d.reason,
                "rows": d.total_rows,
            }
            for d in found
        ]
        if as_json:
            render.print_json(rows)
            return
        for row in rows:
            render.say(
                f"{row['at']}  {row['district']}  {row['rows']} rows  by {row['actor']}: "
                f"{row['reason']}"
            )
