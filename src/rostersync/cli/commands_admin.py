"""CLI commands for staff accounts: `rostersync staff add`, `invite`, `reset-totp`.

Each command parses, calls one `Services` method, and renders; nothing else happens here. The
password is asked for twice, hidden, and never accepted as an option (it would land in the shell
history and the process list).
"""

from __future__ import annotations

from typing import Annotated

import typer

from rostersync.cli import commands_api_tokens, render
from rostersync.cli.common import service as _service


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
    staff_app = typer.Typer(help="Vendor staff and data manager accounts.", no_args_is_help=True)
    app.add_typer(staff_app, name="staff")
    staff_app.command("add")(staff_add)
    staff_app.command("invite")(staff_invite)
    staff_app.command("reset-totp")(staff_reset_totp)
    commands_api_tokens.register(staff_app)


# Changes made from the CLI are audited under this actor: whoever runs it has the server's
# database credentials, which only vendor staff have.
CLI_ACTOR = "cli:vendor_staff"


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
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    service = _service()
    try:
        staff_id = service.staff.add_staff(
            email=email, display_name=name, role=role, password=password, district=district
        )
    finally:
        service.close()
    render.say(f"Staff account created: {staff_id} ({role})")


def staff_invite(
    email: Annotated[str, typer.Argument(help="The data manager's work email")],
    district: Annotated[str, typer.Option("--district", help="Their district (slug)")],
) -> None:
    """Email a data manager a one-time link (7 days) to set up their account."""
    service = _service()
    try:
        invitation_id, sent = service.staff.invite(district=district, email=email, actor=CLI_ACTOR)
        where = (
            f"the outbox ({service.settings.resolved_outbox_dir})"
            if service.settings.mail_backend == "outbox"
            else "SMTP"
        )
    finally:
        service.close()
    if not sent:
        render.say(
            ("Error:", "bold red"),
            f" invitation {invitation_id} was saved but the email could not be "
            "sent; check the mail settings and invite again",
        )
        raise typer.Exit(1)
    render.say(f"Invitation {invitation_id} sent through {where}.")


def staff_reset_totp(
    email: Annotated[str, typer.Argument(help="The staff member's sign-in email")],
) -> None:
    """Turn off two-step sign-in for a locked-out person and unlock their account."""
    service = _service()
    try:
        staff_id = service.staff.reset_totp(email, actor=CLI_ACTOR)
    finally:
        service.close()
    render.say(
        f"Two-step sign-in reset for {staff_id}: they sign in with their password and can set "
        "it up again at /staff/totp."
    )
