"""CLI commands for districts that push OneRoster bundles: `rostersync push-key issue|rotate`.

Each command parses, calls one `RosterSync` method, and renders. The secret is printed exactly
once, to the terminal that asked for it: rostersync keeps it only encrypted and can never show
it again, so a lost secret means rotating to a new one.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from rostersync.cli import render
from rostersync.errors import RosterSyncError

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Actor = Annotated[
    str | None, typer.Option("--actor", help="Who asks, for the audit log (default: you).")
]
Slug = Annotated[str, typer.Argument(help="The district (slug)")]


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
    push_app = typer.Typer(
        help="The key and secret a district pushes OneRoster CSV bundles with.",
        no_args_is_help=True,
    )
    app.add_typer(push_app, name="push-key")
    push_app.command("issue")(push_key_issue)
    push_app.command("rotate")(push_key_rotate)


def push_key_issue(district: Slug, actor: Actor = None, as_json: Json = False) -> None:
    """Issue a district's push key and secret (shown once; stored encrypted)."""
    _change(district, actor, as_json, rotate=False)


def push_key_rotate(district: Slug, actor: Actor = None, as_json: Json = False) -> None:
    """Replace a district's push key and secret; the old secret stops working at once."""
    _change(district, actor, as_json, rotate=True)


def _change(district: str, actor: str | None, as_json: bool, *, rotate: bool) -> None:
    from rostersync.cli.main import _service

    service = _service()
    try:
        change = service.rotate_push_credentials if rotate else service.issue_push_credentials
        key_id, secret = change(district, _actor(actor))
    except RosterSyncError as exc:
        render.console.print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        service.close()
    url = f"{service.settings.portal_base_url.rstrip('/')}/api/v1/districts/{district}/bundles"
    if as_json:
        render.print_json({"district": district, "key": key_id, "secret": secret, "url": url})
        return
    render.console.print(f"Push key for {district}: {key_id}")
    render.console.print(f"Secret: {secret}", soft_wrap=True, highlight=False)
    render.console.print(
        "[bold yellow]Store this secret now[/] (a password manager, or the district's push "
        "tool): it is shown only this once and cannot be read back. "
        f"If it is lost, run `rostersync push-key rotate {district}`."
    )
    if rotate:
        render.console.print("The previous key and secret no longer work.")
    render.console.print(f"The district pushes bundles to POST {url} (HTTP Basic: key, secret).")


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"
