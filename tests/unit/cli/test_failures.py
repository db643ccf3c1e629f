"""The CLI's one error path: expected errors are one line or JSON and exit 2; bugs get a reference.

Commands of a small Typer app built on the same `CommandGroup` raise real exceptions; nothing in
the error path is replaced.
"""

from __future__ import annotations

import json
import re

import pytest
import typer
from hypothesis import example, given, settings
from tests.unit.cli.cases import shown, values
from typer.testing import CliRunner

from rostersync.cli import render
from rostersync.cli.failures import EXIT_BUG, EXIT_REFUSED, CommandGroup, Debug, Json
from rostersync.config import Settings
from rostersync.errors import FullSyncRequired, NotFoundError, RosterSyncError, SourceAuthError
from rostersync.logs import configure_logging

PERSONAL = "Ann Example, grade [/b], ann@students.example"


class DatabaseUnavailable(RosterSyncError):
    """Stands in for an error class added to the tree later: handled without being named."""


def app_raising(error: BaseException) -> typer.Typer:
    app = typer.Typer(cls=CommandGroup, pretty_exceptions_enable=False)

    @app.callback()
    def options(debug: Debug = False) -> None:
        """The root's options, as rostersync's."""

    @app.command("fail")
    def fail(as_json: Json = False) -> None:
        raise error

    @app.command("ok")
    def ok(as_json: Json = False) -> None:
        render.say("fine")

    return app


@pytest.fixture(autouse=True)
def json_logs() -> None:
    configure_logging(Settings(log_format="json", log_level="INFO"))


def invoke(error: BaseException, *args: str, **env: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app_raising(error), list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("no district 'nowhere'; `rostersync district list` shows the districts"),
        FullSyncRequired("no successful full sync yet: run a full sync first"),
        SourceAuthError("the secret was refused [unauthorized]", credential="secret"),
        DatabaseUnavailable("the database is unavailable; check it is running and retry"),
    ],
)
def test_an_expected_error_is_one_line_or_json_and_exits_2(error: RosterSyncError) -> None:
    code, out, err = invoke(error, "fail")
    assert (code, out) == (EXIT_REFUSED, f"Error: {error}\n")
    assert "Traceback" not in err

    code, out, err = invoke(error, "--debug", "fail", "--json")  # never a traceback, even so
    assert code == EXIT_REFUSED and "Traceback" not in err
    assert json.loads(out) == {"error": {"type": type(error).__name__, "message": str(error)}}


@settings(deadline=None)
@given(values)
@example("[/b]")
@example("[bold red]Error:[/] forged\nsecond line\x1b[2J")
@example("")
def test_any_message_is_shown_exactly_on_one_line(message: str) -> None:
    code, out, _ = invoke(DatabaseUnavailable(message), "fail")
    assert code == EXIT_REFUSED
    assert shown(out) == f"Error: {render.visible(message or 'DatabaseUnavailable')}\n"
    code, out, _ = invoke(DatabaseUnavailable(message), "fail", "--json")
    assert json.loads(out)["error"]["message"] == (message or "DatabaseUnavailable")


def test_a_bug_shows_a_reference_that_is_logged_and_never_its_message() -> None:
    code, out, err = invoke(ValueError(PERSONAL), "fail")
    assert code == EXIT_BUG
    match = re.fullmatch(
        r"Error: unexpected ValueError inside rostersync \(reference ([0-9a-f]{12})\)\. "
        r"Run again with --debug \(or ROSTERSYNC_DEBUG=1\) to see the traceback, "
        r"and quote the reference when reporting it\.\n",
        out,
    )
    assert match, out
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {
        "event": "cli.unexpected_error",
        "reference": match[1],
        "error_type": "ValueError",
        "command": "fail",
    }.items() <= logged[-1].items()
    assert "Traceback" not in err and "Ann" not in out + err


def test_a_bug_under_json_is_json_with_its_reference() -> None:
    code, out, _ = invoke(KeyError(PERSONAL), "fail", "--json")
    assert code == EXIT_BUG
    error = json.loads(out)["error"]
    assert error["type"] == "UnexpectedError" and error["reference"] in error["message"]
    assert "Ann" not in out


@pytest.mark.parametrize("how", [("--debug",), ()], ids=["--debug", "ROSTERSYNC_DEBUG"])
def test_the_traceback_of_a_bug_is_shown_only_when_debugging(how: tuple[str, ...]) -> None:
    env = {} if how else {"ROSTERSYNC_DEBUG": "1"}
    code, out, err = invoke(ValueError("boom"), *how, "fail", **env)
    assert code == EXIT_BUG and "reference" in out
    assert "Traceback (most recent call last)" in err and "ValueError: boom" in err
    assert "Traceback" not in out  # standard output stays what a script reads


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (typer.Exit(3), 3, ""),
        (typer.BadParameter("must be a slug", param_hint="'DISTRICT'"), 2, "must be a slug"),
        (typer.Abort(), 1, "Aborted"),
        (EOFError(), 1, "Aborted"),
    ],
)
def test_typer_control_flow_passes_untouched(error: BaseException, code: int, text: str) -> None:
    result = CliRunner().invoke(app_raising(error), ["fail"])
    assert result.exit_code == code and text in result.output
    assert "reference" not in result.output


def test_a_command_that_succeeds_is_untouched() -> None:
    assert invoke(ValueError(), "ok", "--json")[:2] == (0, "fine\n")
