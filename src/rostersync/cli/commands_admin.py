"""CLI commands for staff accounts: `rostersync staff add`.

Each command parses, calls one `RosterSync` method, and renders; nothing else happens here. The
password is asked for twice, hidden, and never accepted as an option (it would land in the shell
history and the process list).
"""

from __future__ import annotations

from typing import Annotated

import typer

from rostersync.cli import render
from rostersync.errors import RosterSyncError


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
    staff_app = typer.Typer(help="Vendor staff and data manager accounts.", no_args_is_help=True)
    app.add_typer(staff_app, name="staff")
    staff_app.command("add")(staff_add)


def staff_add(
    email: Annotated[str, typer.Argument(help="The email they sign in with")],
    name: Annotated[str, typer.Option("--name", help="Their name, shown in the page header")],
    role: Annotated[
        str, typer.Option("--role", help="vendor_staff (every district) or data_manager")
    ],
    district: Annotated[
        str | None, typer.Option("--district", help="A data manager's district (slug)")
    ] = None,
) -> None:
    """Create a local staff account (argon2id password; sign in at /staff/login)."""
    from rostersync.cli.main import _service

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    service = _service()
    try:
        staff_id = service.add_staff(
            email=email, display_name=name, role=role, password=password, district=district
        )
    except RosterSyncError as exc:
        render.console.print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        service.close()
    render.console.print(f"Staff account created: {staff_id} ({role})")
