"""CLI commands for the job queue: `worker`, `tick` and `schedule`.

Each command parses, calls the service API or the jobs package, and renders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from rostersync.cli import render
from rostersync.cli.common import service as _service
from rostersync.cli.failures import Json
from rostersync.config import get_settings


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""

    @app.command("worker")
    def worker(
        workers: Annotated[int, typer.Option(help="Worker threads in this process")] = 1,
        periodic: Annotated[
            bool, typer.Option(help="Also run the scheduler tick every minute")
        ] = True,
        metrics_port: Annotated[
            int | None,
            typer.Option(help="Serve this worker's metrics on 127.0.0.1 at this port"),
        ] = None,
    ) -> None:
        """Run queue workers: scheduled syncs and the every-minute tick, until Ctrl-C."""
        from rostersync.jobs.worker import run_worker

        settings = get_settings()
        where = "Redis" if settings.queue_backend == "redis" else f"{settings.data_dir} (SQLite)"
        render.say(f"Worker on queue {settings.queue_name!r} in {where}")
        if settings.mail_backend == "outbox":
            render.say(f"Emails are written to {settings.resolved_outbox_dir}")
        run_worker(settings, workers=workers, periodic=periodic, metrics_port=metrics_port)

    @app.command("tick")
    def tick(
        now: Annotated[
            str | None, typer.Option(help="Pretend it is this instant (ISO 8601, with offset)")
        ] = None,
        as_json: Json = False,
    ) -> None:
        """Enqueue every scheduled sync that is due now (the worker does this every minute)."""
        from rostersync.jobs.scheduler import tick as run_tick

        instant = _instant(now) if now else None
        sent = run_tick(_service(), instant)
        if as_json:
            render.print_json(sent)
            return
        render.console.print(
            render.rows_table("Enqueued syncs", sent, ["slug", "due_slot", "trigger", "reason"])
        )

    @app.command("schedule")
    def schedule(district: str, as_json: Json = False) -> None:
        """Show a district's sync schedule and its next run in the district's time zone."""
        info = _service().districts.schedule(district)
        data = {
            "district": info.slug,
            "status": info.status,
            "schedule": info.description,
            "next_run": info.next_run_local.isoformat() if info.next_run_local else None,
            "next_run_utc": info.next_run_utc.isoformat() if info.next_run_utc else None,
            "quarantined": info.quarantined,
        }
        if as_json:
            render.print_json(data)
            return
        render.console.print(render.rows_table(f"Schedule of {info.slug}", [data], list(data)))


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not ISO 8601, e.g. 2026-03-09T12:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
