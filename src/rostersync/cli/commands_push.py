"""CLI commands for districts that push OneRoster bundles: `rostersync push-key issue|rotate`.

Each command parses, calls one `Services` method, and renders. The secret is printed exactly
once, to the terminal that asked for it: rostersync keeps it only encrypted and can never show
it again, so a lost secret means rotating to a new one.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rostersync.cli import render
from rostersync.cli.common import actor_name as _actor
from rostersync.cli.common import service as _service
from rostersync.cli.failures import Json

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
    bundles_app = typer.Typer(
        help="Bundles districts pushed: kept sealed, deleted after the retention period.",
        no_args_is_help=True,
    )
    app.add_typer(bundles_app, name="pushed-bundles")
    bundles_app.command("expire")(pushed_bundles_expire)


def push_key_issue(district: Slug, actor: Actor = None, as_json: Json = False) -> None:
    """Issue a district's push key and secret (shown once; stored encrypted)."""
    _change(district, actor, as_json, rotate=False)


def push_key_rotate(district: Slug, actor: Actor = None, as_json: Json = False) -> None:
    """Replace a district's push key and secret; the old secret stops working at once."""
    _change(district, actor, as_json, rotate=True)


def pushed_bundles_expire(as_json: Json = False) -> None:
    """Delete pushed bundles past ROSTERSYNC_PUSHED_BUNDLE_RETENTION_DAYS (the worker does it
    hourly); bundles still queued or running are kept."""
    service = _service()
    try:
        expired = service.push.expire()
    finally:
        service.close()
    days = service.settings.pushed_bundle_retention_days
    if as_json:
        render.print_json(
            {
                "deleted": expired.count,
                "sealed": expired.sealed,
                "leftovers": expired.leftovers,
                "retention_days": days,
            }
        )
        return
    render.say(
        f"Deleted {expired.count} pushed bundle(s) older than {days} days, sealed "
        f"{expired.sealed} kept in clear, removed {expired.leftovers} leftover working file(s)."
    )


def _change(district: str, actor: str | None, as_json: bool, *, rotate: bool) -> None:
    service = _service()
    try:
        change = service.push.rotate_credentials if rotate else service.push.issue_credentials
        key_id, secret = change(district, _actor(actor))
    finally:
        service.close()
    url = f"{service.settings.portal_base_url.rstrip('/')}/api/v1/districts/{district}/bundles"
    if as_json:
        render.print_json({"district": district, "key": key_id, "secret": secret, "url": url})
        return
    render.say(f"Push key for {district}: {key_id}")
    render.say(f"Secret: {secret}")
    render.say(
        ("Store this secret now", "bold yellow"),
        " (a password manager, or the district's push "
        "tool): it is shown only this once and cannot be read back. "
        f"If it is lost, run `rostersync push-key rotate {district}`.",
    )
    if rotate:
        render.say("The previous key and secret no longer work.")
    render.say(f"The district pushes bundles to POST {url} (HTTP Basic: key, secret).")
