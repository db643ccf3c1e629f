"""CLI commands for the web server: `rostersync serve`, and a sign-in sandbox for newcomers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help=(
                "Portal processes serving the same port. Sessions are shared through the "
                "database; more than one needs the staff rate limits in Redis "
                "(ROSTERSYNC_RATE_LIMIT_STORAGE_URL, or the job queue on Redis) and each "
                "worker counts its own metrics, added up at /metrics"
            ),
        ),
    ] = 1,
) -> None:
    """Serve the Educator Portal (sign-in and home pages) with uvicorn until Ctrl-C."""
    from rostersync.config import get_settings
    from rostersync.errors import ConfigError
    from rostersync.logs import configure_logging
    from rostersync.web.server import serve_workers, shared_limits_or_refusal

    settings = get_settings()
    configure_logging(settings)
    refusal = shared_limits_or_refusal(settings, workers)
    if refusal is not None:
        raise ConfigError(refusal)  # shown as one line, exit code 2
    settings.encryption_keys()  # a development key is made once here, not raced by workers
    serve_workers(f"{__name__}:portal_app", host=host, port=port, workers=workers)


def portal_app() -> FastAPI:
    """The portal app of one `rostersync serve` worker: its own service, closed at shutdown.

    uvicorn calls this by import string in each worker process (and once for one worker).
    """
    from rostersync.cli.common import service as _service
    from rostersync.web.app import create_app

    service = _service()
    app = create_app(service)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        service.close()

    app.router.lifespan_context = lifespan
    return app


def serve_sign_in_sandbox(
    *, students: int = 300, seed: int = 7, port: int = 8000, data_dir: Path = Path("var/demo-web")
) -> None:
    """Leave the portal and the simulators (ClassLink's and Clever's) running for a newcomer.

    Serves the demo district with its planted bad records open as issues, a held sync to review
    and a data manager to sign in as (`rostersync.demo.showcase`), prints where to go and the
    demo-only passwords, and serves until Ctrl-C. Meant to be called by `rostersync demo --serve`
    after the demo's checks (see cli/demo.py).
    """
    from rostersync.cli import render
    from rostersync.demo.showcase import demo_settings, start_showcase

    settings = demo_settings(data_dir)
    with start_showcase(settings, students=students, seed=seed, port=port) as showcase:
        people = showcase.sandbox.sso.people("1001")
        render.say()
        for line in showcase.welcome():
            render.say(line)
        render.say()
        render.say("Educator Portal: ", (f"{showcase.url}/login", "bold"))
        render.say("Choose Springfield, then sign in at the simulated ClassLink as e.g.:")
        for role in ("Student", "Teacher"):
            for person in [p for p in people if p.role == role][:3]:
                render.say(f"  {person.display_name} ({role.lower()})")
        teacher = next(p for p in people if p.sourced_id.startswith("tch-"))
        launch = showcase.sandbox.sso.launch_url("educator-portal", "1001", teacher.sourced_id)
        render.say(f"LaunchPad tile for {teacher.display_name}: {launch}")
        render.say("Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
