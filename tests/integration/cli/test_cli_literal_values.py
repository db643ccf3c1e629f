"""Roster values and server messages reach the terminal exactly as they are, never as markup.

A grade of `[/b]` once made `rostersync sync` die with `rich.errors.MarkupError` after the run was
written, and every later `open-issues` died the same way; the `[unauthorized]` of a refused
secret vanished from the message. Driven as a person would, against the simulator and SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from tests.integration.cli.test_cli import KEY, SECRET, add_district, env, invoke
from tests.unit.cli.cases import shown, values, wide_console

from rostersync.cli import render
from rostersync.simulator import SimulatorServer, Tenant, generate_district

__all__ = ["env"]  # the fixture, shared with test_cli

GRADE, GIVEN, FAMILY = "[/b]", "[red]Ann", "[bold]x[/] \\ :smile:"


@pytest.fixture
def bracketed_server() -> Iterator[SimulatorServer]:
    """A district with one student whose grade and names are written like markup."""
    data = generate_district(students=40, seed=5)
    students = [u for u in data.users if u["role"] == "student"]
    students[0]["grades"] = [GRADE]
    students[1]["givenName"], students[1]["familyName"] = GIVEN, FAMILY
    tenant = Tenant(name="springfield", data=data, key=KEY, secret=SECRET)
    with SimulatorServer([tenant]) as srv:
        yield srv


@pytest.fixture
def database(env: dict[str, str]) -> dict[str, str]:
    """An empty portal database, made once for every example of a property test."""
    assert run("db", "init")[0] == 0
    return env


def run(*args: str) -> tuple[int, str]:
    with wide_console():
        code, out = invoke(*args)
    return code, shown(out)


def one_error_line(out: str) -> str:
    """The output is exactly one line; returns it."""
    assert out.endswith("\n") and out.count("\n") == 1, out
    return out[:-1]


def test_a_markup_like_grade_and_name_sync_and_are_listed_literally(
    env: dict[str, str], bracketed_server: SimulatorServer
) -> None:
    assert run("db", "init")[0] == 0
    add_district(bracketed_server)

    code, out = run("sync", "springfield")
    assert code == 0, out
    assert f"grade '{GRADE}'" in out  # the run's issue, in the issues table

    code, out = run("open-issues", "springfield")
    assert code == 0, out
    assert f"grade '{GRADE}'" in out
    code, out = run("open-issues", "springfield", "--json")
    assert code == 0, out
    assert any(GRADE in issue["message"] for issue in json.loads(out))

    code, out = run("people", "springfield", "--limit", "500")
    assert code == 0, out
    assert f"│ {GIVEN}" in out and f"│ {FAMILY}" in out


def test_bracketed_words_in_a_server_refusal_are_kept(env: dict[str, str]) -> None:
    data = generate_district(students=10, seed=5)
    with SimulatorServer([Tenant(name="springfield", data=data, key=KEY, secret=SECRET)]) as srv:
        run("db", "init")
        add_district(srv, secret="not-the-secret")
        code, out = run("sync", "springfield")
    assert code == 1
    assert "(HTTP 401: invalid signature [unauthorized])" in out


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=values)
@example(value="[/b]")
@example(value="[bold red]Error:[/] forged\x1b[2J")
def test_any_value_in_a_command_and_its_error_prints_literally(
    database: dict[str, str], value: str
) -> None:
    """A district's names go in and come out of `district add/show/list` as typed; a district
    that does not exist is named exactly in the error, as a line and as JSON."""
    shown_value = render.visible(value)

    missing = f"no district {value!r}; `rostersync district list` shows the districts"
    code, out = run("sync", "--", value)
    assert code == 2
    assert one_error_line(out) == f"Error: {render.visible(missing)}"
    code, out = run("sync", "--json", "--", value)
    assert code == 2
    error = json.loads(out)["error"]
    assert error == {"type": "NotFoundError", "message": missing}

    slug = f"d{abs(hash(value)) % 10**9}"
    code, out = run(
        "district", "add", slug, "--name", value, "--display-name", value,
        "--city", value, "--state", "IL", "--source-kind", "none",
    )  # fmt: skip
    if code == 2:  # refused: one line that says why, never a traceback
        assert one_error_line(out).startswith("Error: ")
        return
    assert code == 0, out
    assert out == f"Added district {slug} ({shown_value}).\n"
    code, out = run("district", "show", slug)
    assert code == 0 and out.count(f"│ {shown_value}") >= 3, out
    code, out = run("district", "show", slug, "--json")
    assert json.loads(out)["district"]["display_name"] == value
