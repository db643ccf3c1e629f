"""CLI commands for the web server: `rostersync serve`, and a sign-in sandbox for newcomers."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve the Educator Portal (sign-in and home pages) with uvicorn until Ctrl-C."""
    from rostersync.cli.common import service as _service
    from rostersync.web.app import create_app
    from rostersync.web.server import serve as run

    service = _service()
    try:
        run(create_app(service), host=host, port=port)
    finally:
        service.close()


def serve_sign_in_sandbox(
    *, students: int = 300, seed: int = 7, port: int = 8000, data_dir: Path = Path("var/demo-web")
) -> None:
    """Leave the portal and both ClassLink simulators running so a newcomer can sign in.

    Generates a district, onboards and syncs it, sets it live, prints the portal's URL and a few
    people to sign in as, and serves until Ctrl-C. Meant to be called by `rostersync demo --serve`
    after the demo's checks (see cli/demo.py).
    """
    import secrets
    import shutil

    from cryptography.fernet import Fernet

    from rostersync.cli import render
    from rostersync.config import Settings
    from rostersync.demo.sandbox import Sandbox, SandboxDistrict
    from rostersync.simulator import generate_district

    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'rostersync.db'}",
        secret_keys=Fernet.generate_key().decode(),
        log_format="console",
        log_level="WARNING",
    )
    district = SandboxDistrict(
        slug="springfield",
        tenant_id="1001",
        display_name="Springfield USD – Springfield, IL",
        data=generate_district(students=students, seed=seed, tenant="springfield"),
    )
    # Served by the simulated ClassLink but not onboarded: for trying the onboarding wizard.
    waiting = SandboxDistrict(
        slug="capital",
        tenant_id="1004",
        display_name="Capital City SD – Capital City, IL",
        data=generate_district(students=60, seed=seed + 1, tenant="capital"),
        onboarded=False,
    )
    with Sandbox(settings, [district, waiting], port=port) as sandbox:
        assert sandbox.service is not None
        people = sandbox.sso.people("1001")
        render.say("Educator Portal: ", (f"{sandbox.url}/login", "bold"))
        render.say("Choose Springfield, then sign in at the simulated ClassLink as e.g.:")
        for role in ("Student", "Teacher"):
            for person in [p for p in people if p.role == role][:3]:
                render.say(f"  {person.display_name} ({role.lower()})")
        teacher = next(p for p in people if p.sourced_id.startswith("tch-"))
        launch = sandbox.sso.launch_url("educator-portal", "1001", teacher.sourced_id)
        render.say(f"LaunchPad tile for {teacher.display_name}: {launch}")
        # Passwords made for this run only; the demo's database is thrown away on the next one.
        logins = [
            ("vendor@demo.example", "Val Vendor", "vendor_staff", None),
            ("data.manager@springfield.example", "Dana Manager", "data_manager", "springfield"),
        ]
        render.say()
        render.say("Admin pages: ", (f"{sandbox.url}/staff/login", "bold"))
        for email, name, role, slug in logins:
            password = secrets.token_urlsafe(12)
            sandbox.service.staff.add_staff(
                email=email, display_name=name, role=role, password=password, district=slug
            )
            render.say(f"  {email} / {password} ({role.replace('_', ' ')})")
        url, key, secret = sandbox.roster_credentials["capital"]
        render.say(
            "Onboard Capital City with the wizard (Onboard a district), tenant ID 1004, "
            f"OneRoster 1.1 at {url}, key {key}, secret {secret}"
        )
        render.say("Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
