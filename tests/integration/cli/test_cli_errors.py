"""Every `--json` command answers an error in JSON; every command says what went wrong in one line.

Found by the command tree itself, so a command added later is checked too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from tests.integration.cli.test_cli import env, invoke

from rostersync.cli.main import app
from rostersync.config import get_settings

__all__ = ["env"]  # the fixture, shared with test_cli

# What a command needs besides its arguments and required options to reach the service.
EXTRA = {"district add": ["--secret", "not-asked-for"]}
# Commands whose missing district or run is not an error (they create or list).
NOTHING_TO_FIND = {
    "district add",
    "district list",
    "privacy disposals",
    "pushed-bundles expire",
    "tick",
}


def json_commands() -> Iterator[tuple[str, list[str]]]:
    """Each command taking `--json`, with arguments naming things that do not exist."""

    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, list[str]]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, [*path, name])
            return
        if not any("--json" in p.opts for p in command.params):
            return
        args: list[str] = []
        for param in command.params:
            if param.required and param.param_type_name == "argument":
                args.append("nowhere")
            elif param.required:
                args += [param.opts[0], "nowhere"]
        name = " ".join(path)
        yield name, [*path, *args, *EXTRA.get(name, []), "--json"]

    yield from walk(typer.main.get_command(app), [])


COMMANDS = dict(json_commands())


def test_the_json_commands_are_found() -> None:
    assert {"sync", "open-issues", "district add", "privacy purge-district"} <= set(COMMANDS)
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_bad_setting_is_a_json_error_naming_the_variable_not_its_value(
    name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROSTERSYNC_PAGE_SIZE", "hunter2-not-a-number")
    get_settings.cache_clear()
    code, out = invoke(*COMMANDS[name])
    assert code == 2, out
    error = json.loads(out)["error"]
    assert error["type"] == "ConfigError"
    assert "ROSTERSYNC_PAGE_SIZE" in error["message"] and "hunter2" not in out


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated, empty portal database for every command below."""
    from cryptography.fernet import Fernet

    folder = tmp_path_factory.mktemp("cli-errors")
    values = {
        "ROSTERSYNC_DATA_DIR": str(folder),
        "ROSTERSYNC_DATABASE_URL": f"sqlite:///{folder / 'portal.db'}",
        "ROSTERSYNC_SECRET_KEYS": Fernet.generate_key().decode(),
        "ROSTERSYNC_LOG_FORMAT": "json",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        assert invoke("db", "init")[0] == 0
        yield values
    get_settings.cache_clear()


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NOTHING_TO_FIND))
def test_something_missing_is_a_json_error_and_a_line_without_json(
    name: str, database: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in database.items():
        monkeypatch.setenv(key, value)
    code, out = invoke(*COMMANDS[name])
    assert code == 2, out
    error = json.loads(out)["error"]
    assert set(error) == {"type", "message"} and error["message"], error
    assert "nowhere" in error["message"]

    code, out = invoke(*COMMANDS[name][:-1])  # the same, without --json
    assert code == 2
    assert out == f"Error: {error['message']}\n"
