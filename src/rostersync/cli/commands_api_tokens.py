"""CLI commands for personal API tokens: `rostersync staff token create|list|revoke`.

For vendor staff on the server (whoever runs the CLI has the database's credentials): make a
token for a staff account, list an account's tokens, and revoke any token by its id, such as
one that leaked. The token is printed once, to the terminal that asked for it; rostersync keeps
only its hash. Each command parses, calls `staff.api_tokens`, and renders; making and revoking
are audited under `--actor` (by default `cli:<login name>`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from rostersync.cli import render
from rostersync.cli.common import actor_name as _actor
from rostersync.cli.common import service as _service
from rostersync.cli.failures import Json
from rostersync.staff.api_tokens import ApiToken, ApiTokens

Actor = Annotated[
    str | None, typer.Option("--actor", help="Who asks, for the audit log (default: you).")
]
Email = Annotated[str, typer.Argument(help="The staff account's sign-in email")]


def register(staff_app: typer.Typer) -> None:
    """Add `token create|list|revoke` under the `rostersync staff` commands."""
    token_app = typer.Typer(
        help="Personal API tokens (Authorization: Bearer rs_…) of staff accounts.",
        no_args_is_help=True,
    )
    staff_app.add_typer(token_app, name="token")
    token_app.command("create")(token_create)
    token_app.command("list")(token_list)
    token_app.command("revoke")(token_revoke)


def _row(token: ApiToken) -> dict[str, str | None]:
    def when(value: datetime | None) -> str | None:
        return None if value is None else f"{value:%Y-%m-%d %H:%M} UTC"

    return {
        "id": token.id,
        "label": token.label,
        "begins": token.prefix,
        "made": when(token.created_at),
        "last_used": when(token.last_used_at),
        "revoked": when(token.revoked_at),
    }


def token_create(
    email: Email,
    label: Annotated[str, typer.Option("--label", help="What the token is for")],
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Make an API token for a staff account (shown once; only its hash is kept)."""
    service = _service()
    try:
        made = ApiTokens(service.engine).create_for(email, label, actor=_actor(actor))
    finally:
        service.close()
    if as_json:
        render.print_json({**_row(made.token), "token": made.secret})
        return
    render.say(f"API token {made.token.id} ({made.token.label}):")
    render.say(made.secret)
    render.say(
        ("Store this token now", "bold yellow"),
        ": it is shown only this once and cannot be read back. Send it as "
        "`Authorization: Bearer <token>`; revoke it with "
        f"`rostersync staff token revoke {made.token.id}`.",
    )


def token_list(email: Email, as_json: Json = False) -> None:
    """List a staff account's API tokens, newest first: never the tokens themselves."""
    service = _service()
    try:
        tokens = ApiTokens(service.engine).list_for(email)
    finally:
        service.close()
    rows = [_row(t) for t in tokens]
    if as_json:
        render.print_json(rows)
        return
    if not rows:
        render.say(f"{email} has no API tokens.")
    for row in rows:  # two short lines a token: readable at 80 columns
        render.say((f"{row['begins']}…", "bold"), f"  {row['label']}")
        state = f"revoked {row['revoked']}" if row["revoked"] else "active"
        render.say(
            f"    {state} · made {row['made']} · last used {row['last_used'] or 'never'}"
            f" · id {row['id']}"
        )


def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (`rostersync staff token list`)")],
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Revoke an API token: it is refused from now on."""
    service = _service()
    try:
        revoked = ApiTokens(service.engine).revoke_any(token_id, actor=_actor(actor))
    finally:
        service.close()
    if as_json:
        render.print_json(_row(revoked))
        return
    render.say(f"Revoked API token {revoked.id} ({revoked.label}): it is refused from now on.")
