"""CLI commands for the web server."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
