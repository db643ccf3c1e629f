"""The CLI's one error path: every command's failure is shown here, the same way.

`rostersync`'s root command group is `CommandGroup`; any exception a command raises passes
through its `invoke`, so no command catches errors itself:

- an error of rostersync's own tree (`RosterSyncError` and every subclass, present and future)
  is expected: one line, `Error: <message>` (the message says what to fix), exit code 2, and no
  traceback, even with `--debug`;
- settings that do not validate (`ROSTERSYNC_…` variables, `.env`) are expected too: the same
  line, naming each variable at fault and never echoing its value;
- a portal database that cannot be reached, or has no tables yet, is expected too: the same line
  as `DatabaseUnavailable`, saying what to check, never the statement or its values;
- anything else is a bug: one line naming the exception's type and a reference id, exit code 70;
  the reference is logged with the type and the command (never the exception's message, which
  may hold personal data), and the traceback is printed to standard error only with `--debug`
  or `ROSTERSYNC_DEBUG=1`;
- a command given `--json` (the shared `Json` option below) prints the error as JSON instead:
  `{"error": {"type": "NotFoundError", "message": "…"}}` (plus `"reference"` for a bug), on
  standard output where a script reads the command's answer.

Typer's own control flow (exit codes, aborts, usage errors, a closed input) passes untouched.
"""

from __future__ import annotations

import json
import sys
import traceback
import uuid
from typing import Annotated, Any, Final

import structlog
import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from typer.core import TyperGroup

from rostersync.cli import render
from rostersync.config import Settings, get_settings
from rostersync.errors import ConfigError, DatabaseUnavailable, RosterSyncError
from rostersync.logs import configure_logging

EXIT_FAILED: Final = 1  # a sync ran and failed; its report says why
EXIT_REFUSED: Final = 2  # rostersync refused or could not do what was asked; the message says why
EXIT_HELD: Final = 3  # a sync was held by a safeguard: nothing written until approved or discarded
EXIT_BUG: Final = 70  # EX_SOFTWARE: an unexpected error inside rostersync
DEBUG_ENV: Final = "ROSTERSYNC_DEBUG"

_ENV_PREFIX = str(Settings.model_config.get("env_prefix", ""))
_JSON_KEY = "rostersync.json"
_DEBUG_KEY = "rostersync.debug"
_log = structlog.get_logger(__name__)


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    ctx.meta[_JSON_KEY] = bool(value)
    return value


def _remember_debug(ctx: typer.Context, value: bool) -> bool:
    ctx.meta[_DEBUG_KEY] = bool(value)
    return value


# Every command's `--json` is this option, so a failure knows to answer in JSON.
Json = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of tables.", callback=_remember_json)
]
Debug = Annotated[
    bool,
    typer.Option(
        "--debug",
        envvar=DEBUG_ENV,
        help="Show the traceback of an unexpected error (never of an expected one).",
        callback=_remember_debug,
    ),
]


class CommandGroup(TyperGroup):
    """The root group: runs a command and turns whatever it raised into one clear answer."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, EOFError, BrokenPipeError):
            raise  # Typer's own control flow: exit codes, usage errors, Ctrl-D, a closed pipe
        except Exception as exc:
            code = answer(
                exc,
                as_json=bool(ctx.meta.get(_JSON_KEY)),
                debug=bool(ctx.meta.get(_DEBUG_KEY)),
                command=ctx.invoked_subcommand or "",
            )
            raise typer.Exit(code) from None


def answer(exc: Exception, *, as_json: bool, debug: bool, command: str) -> int:
    """Show a command's failure (see the module's docstring) and return its exit code."""
    if isinstance(exc, RosterSyncError):
        show_error(type(exc).__name__, str(exc), as_json=as_json)
        return EXIT_REFUSED
    if isinstance(exc, DBAPIError) and isinstance(exc, OperationalError | InterfaceError):
        show_error(DatabaseUnavailable.__name__, database_problem(exc), as_json=as_json)
        return EXIT_REFUSED
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        show_error(ConfigError.__name__, settings_problem(exc), as_json=as_json)
        return EXIT_REFUSED
    show_bug(exc, as_json=as_json, debug=debug, command=command)
    return EXIT_BUG


def show_error(kind: str, message: str, *, as_json: bool) -> None:
    """An expected error: its type and its message, on one line or as JSON."""
    message = message or kind
    if as_json:
        _print_json_error(kind, message)
    else:
        render.say(("Error:", "bold red"), " ", message)


def database_problem(exc: DBAPIError) -> str:
    """What to check when the portal database cannot be used (never the statement or values)."""
    said = str(exc.orig or "").lower()
    if "no such table" in said or ("relation" in said and "does not exist" in said):
        return (
            "the portal database has no tables yet: run `rostersync db init` (it creates or "
            "upgrades them), then run this again"
        )
    return (
        f"the portal database cannot be reached ({type(exc.orig or exc).__name__}): check "
        f"{_ENV_PREFIX}DATABASE_URL and that the database is up, then run this again"
    )


def settings_problem(exc: ValidationError) -> str:
    """What is wrong with the settings, naming each variable (never echoing its value)."""
    problems = [
        f"{_ENV_PREFIX}{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return (
        f"a setting is not valid: {'; '.join(problems)}. "
        "Fix it in the environment or the .env file and run again."
    )


def show_bug(exc: BaseException, *, as_json: bool, debug: bool, command: str) -> str:
    """An unexpected error: a reference to quote; the traceback only when debugging.

    Returns the reference, which is also logged with the error's type and the command.
    """
    reference = uuid.uuid4().hex[:12]
    kind = type(exc).__name__
    _log_bug(reference=reference, error_type=kind, command=command)
    message = (
        f"unexpected {kind} inside rostersync (reference {reference}). "
        f"Run again with --debug (or {DEBUG_ENV}=1) to see the traceback, "
        "and quote the reference when reporting it."
    )
    if as_json:
        _print_json_error("UnexpectedError", message, reference=reference)
    else:
        render.say(("Error:", "bold red"), " ", message)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    return reference


def _log_bug(**fields: str) -> None:
    # Unconfigured structlog prints to standard output, where a script reads the JSON answer:
    # configure it from the settings first, and if even the settings cannot be read, log nothing.
    if not structlog.is_configured():
        try:
            configure_logging(get_settings())
        except Exception:  # the settings themselves are broken; the reference is still shown
            return
    _log.error("cli.unexpected_error", **fields)


def _print_json_error(kind: str, message: str, **extra: str) -> None:
    print(json.dumps({"error": {"type": kind, "message": message, **extra}}, indent=2))
