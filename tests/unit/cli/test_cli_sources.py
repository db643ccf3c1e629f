"""The CLI's code keeps its two rules, so a new command cannot quietly break them.

- One error path: no command catches rostersync's errors or prints them itself, no module defines
  its own `_service()`/`_fail()`, and every `--json` is the shared option the error path reads.
- No markup: nothing hands a plain or formatted string to a Rich console (`print`, `rule`, a
  table's `add_row`); text goes through `render.say`/`line`/`text`, which never parse markup.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rostersync.cli
from rostersync import errors

CLI = Path(rostersync.cli.__file__).parent
SOURCES = sorted(CLI.glob("*.py"))
PROJECT_ERRORS = {
    name for name, obj in vars(errors).items() if isinstance(obj, type) and name[0].isupper()
}
RICH_SINKS = {"print", "rule", "add_row", "log"}


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def named(node: ast.expr | None) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, ast.Tuple):
        return set().union(*(named(e) for e in node.elts))
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return {node.id} if isinstance(node, ast.Name) else set()


def is_text(node: ast.expr) -> bool:
    """A string literal, an f-string, or strings joined with `+` / `%` / `.format`."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return is_text(node.left) or is_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and is_text(node.func.value)
    return False


def test_the_sources_are_found() -> None:
    assert {p.name for p in SOURCES} >= {"main.py", "render.py", "failures.py", "demo.py"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_command_handles_errors_itself(path: Path) -> None:
    module = tree(path)
    caught = {
        name
        for node in ast.walk(module)
        if isinstance(node, ast.ExceptHandler)
        for name in named(node.type)
    }
    assert not caught & PROJECT_ERRORS, f"{path.name} catches {caught & PROJECT_ERRORS}"
    defined = {n.name for n in ast.walk(module) if isinstance(n, ast.FunctionDef)}
    assert not defined & {"_service", "_fail"}
    if path.name != "failures.py":
        literals = {
            n.value for n in ast.walk(module) if isinstance(n, ast.Constant) and n.value == "--json"
        }
        assert not literals, f"{path.name} defines its own --json; use failures.Json"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_string_is_handed_to_a_rich_console(path: Path) -> None:
    offending = [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in RICH_SINKS
        and any(is_text(arg) for arg in node.args)
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "typer")
    ]
    assert not offending, f"strings given to Rich (read as markup): {offending}"


def test_the_guards_see_what_they_guard() -> None:
    """The checks above recognise the code they exist to refuse."""
    bad = ast.parse(
        "try:\n    x()\n"
        "except (RosterSyncError, ValueError) as exc:\n"
        '    console.print(f"[b]{exc}")'
    )
    handler = next(n for n in ast.walk(bad) if isinstance(n, ast.ExceptHandler))
    assert named(handler.type) == {"RosterSyncError", "ValueError"}
    call = next(n for n in ast.walk(bad) if isinstance(n, ast.Call) and n.args)
    assert is_text(call.args[0])
    assert is_text(ast.parse('"a" + b', mode="eval").body)
    assert is_text(ast.parse('"{}".format(b)', mode="eval").body)
    assert not is_text(ast.parse("render.text(b)", mode="eval").body)
