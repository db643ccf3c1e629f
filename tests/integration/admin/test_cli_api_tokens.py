"""`rostersync staff token create|list|revoke`: vendor staff on the server make a staff account's
API token (printed once), list an account's tokens without them, and revoke any token (SQLite).

The commands are registered here on a `staff` group of a root group like the CLI's own
(`CommandGroup`, the one error path), as `cli/commands_admin.py` registers them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from tests.integration.cli_world import cli_environment
from typer.testing import CliRunner

from rostersync.cli import commands_api_tokens
from rostersync.cli.failures import CommandGroup
from rostersync.config import get_settings
from rostersync.services import Services
from rostersync.staff.api_tokens import ApiTokenRefused, ApiTokens
from rostersync.store.signin_tables import staff_audit

EMAIL = "ops@portal.example"


def cli() -> typer.Typer:
    root = typer.Typer(cls=CommandGroup, no_args_is_help=True, pretty_exceptions_enable=False)
    staff_app = typer.Typer(no_args_is_help=True)
    root.add_typer(staff_app, name="staff")
    commands_api_tokens.register(staff_app)
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli(), ["staff", "token", *args])
    return result.exit_code, result.stdout


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    with cli_environment(tmp_path, monkeypatch, chdir=False):
        svc = Services(get_settings())
        svc.init_db()
        svc.staff.add_staff(
            email=EMAIL, display_name="Ops Person", role="vendor_staff", password="p" * 16
        )
        yield svc
        svc.close()


class TestTokenCommands:
    def test_create_prints_the_token_once_and_it_calls_as_its_account(
        self, service: Services
    ) -> None:
        code, out = run("create", EMAIL, "--label", "nightly export", "--json")
        assert code == 0, out
        made = json.loads(out)
        viewer = ApiTokens(service.engine).authenticate(made["token"])
        assert (viewer.email, viewer.role) == (EMAIL, "vendor_staff")
        assert made["begins"] == made["token"][:11] and made["label"] == "nightly export"
        code, listed = run("list", EMAIL)
        assert code == 0, listed
        assert made["token"] not in listed
        assert made["begins"] in listed and "nightly export" in listed

    def test_revoke_by_id_stops_the_token_and_is_audited(self, service: Services) -> None:
        code, out = run("create", EMAIL, "--label", "leaked", "--json")
        made = json.loads(out)
        code, out = run("revoke", made["id"], "--actor", "cli:oncall")
        assert code == 0, out
        assert "refused from now on" in out
        with pytest.raises(ApiTokenRefused):
            ApiTokens(service.engine).authenticate(made["token"])
        with service.engine.connect() as conn:
            actions = conn.execute(
                select(staff_audit.c.action, staff_audit.c.actor).order_by(staff_audit.c.id)
            ).all()
        assert [tuple(a) for a in actions][-1] == ("api_token_revoked", "cli:oncall")
        listed = json.loads(run("list", EMAIL, "--json")[1])
        assert listed[0]["revoked"] is not None
        again_code, again = run("revoke", made["id"])
        assert again_code == 2 and again.startswith("Error:")

    def test_an_unknown_email_is_refused(self, service: Services) -> None:
        code, out = run("create", "nobody@portal.example", "--label", "x")
        assert code == 2 and "no active staff account" in out
        code, out = run("list", "nobody@portal.example")
        assert code == 2 and "no staff account" in out

    def test_the_text_output_says_to_store_it_now(self, service: Services) -> None:
        code, out = run("create", EMAIL, "--label", "by hand")
        assert code == 0, out
        assert "shown only this once" in out
        (secret,) = [line for line in out.splitlines() if line.startswith("rs_")]
        assert ApiTokens(service.engine).authenticate(secret).email == EMAIL
