"""No roster value is ever read as markup: every renderer shows any string exactly, and never fails.

A grade of `[/b]` once made `rostersync sync` die with `rich.errors.MarkupError` after the run was
written (and every later `open-issues` too); bracketed words in server errors vanished. Each test
pushes arbitrary strings, and the values that broke or could break a renderer, through one
renderer of `rostersync.cli.render` and checks that the exact text is shown (control characters
as visible escapes, see `render.visible`) and that no raw control character reaches the terminal.
"""

from __future__ import annotations

import contextlib
import io
import json
import unicodedata
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import RenderableType
from rich.progress import Progress
from rich.text import Text
from tests.unit.cli.cases import TRICKY, shown, values, wide_console

from rostersync.cli import render
from rostersync.domain.issues import Severity, ValidationIssue
from rostersync.sync.events import CollectionPulled
from rostersync.sync.pipeline import SyncReport

# Every public function of render.py, each with its test below. A new renderer fails
# `test_every_renderer_is_tested` until it is added here with a test of its own.
TESTED = {
    "visible": "test_visible_keeps_text_and_escapes_only_controls",
    "text": "test_text_and_line_and_say_show_values_literally",
    "table_title": "test_rows_table_title_and_cells",
    "line": "test_text_and_line_and_say_show_values_literally",
    "say": "test_text_and_line_and_say_show_values_literally",
    "to_jsonable": "test_json_renderers_round_trip_any_value",
    "print_json": "test_json_renderers_round_trip_any_value",
    "report_json": "test_json_renderers_round_trip_any_value",
    "counts_table": "test_counts_table_title",
    "issues_table": "test_issues_table_cells",
    "print_report": "test_print_report_of_a_run",
    "print_status_reason": "test_print_report_of_a_run",
    "rows_table": "test_rows_table_title_and_cells",
    "facts_table": "test_facts_table_shows_each_field_on_its_own_line",
    "progress_bar": "test_progress_lines_show_the_collection",
    "sync_progress": "test_progress_lines_show_the_collection",
}


def test_every_renderer_is_tested() -> None:
    public = {
        name
        for name, obj in vars(render).items()
        if callable(obj)
        and getattr(obj, "__module__", None) == render.__name__
        and not name.startswith("_")
    }
    assert public == set(TESTED)
    assert all(name in globals() for name in TESTED.values())


def printed(*renderables: RenderableType) -> str:
    """What the CLI's console prints for these, checked for leaked control characters."""
    with wide_console(), render.console.capture() as capture:
        for renderable in renderables:
            render.console.print(renderable)
    return shown(capture.get())


def said(call: Any, *args: Any, **kwargs: Any) -> str:
    """What a render function prints on the CLI's console."""
    with wide_console(), render.console.capture() as capture:
        call(*args, **kwargs)
    return shown(capture.get())


def assert_title(out: str, title: str) -> None:
    """A table's title is its first line (Rich leaves an empty title out)."""
    if render.visible(title).strip():
        assert out.splitlines()[0].rstrip() == render.visible(title).rstrip()


def issue(value: str) -> ValidationIssue:
    return ValidationIssue(
        entity=value,
        sourced_id=value,
        field=value,
        code="invalid_grade",
        message=f"grade {value!s} is not a CEDS grade code",
        fix=value,
        severity=Severity.ERROR,
    )


def report(value: str, status: str = "succeeded") -> SyncReport:
    return SyncReport(
        run_id=value,
        district_id="d-1",
        status=status,
        counts={"student": {"created": 3}},
        skipped={value: 2},
        issues=[issue(value)],
        error=value,
        reason=value,
    )


@settings(deadline=None)
@given(values)
@example("\x1b[2J")
@example("\u202e")
def test_visible_keeps_text_and_escapes_only_controls(value: str) -> None:
    out = render.visible(value)
    assert shown(out) == out  # nothing raw is left
    if all(render.visible(c) == c for c in value):
        assert out == value
    kept = [c for c in value if unicodedata.category(c) not in ("Cc", "Zl", "Zp")]
    assert all(
        c in out for c in kept if c not in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    )


def test_control_characters_are_shown_as_escapes() -> None:
    assert render.visible("a\x1b[31mb\r\n\t\u202e") == "a\\x1b[31mb\\x0d\\x0a\\x09\\u202e"
    assert render.visible("[/b] \\ [bold]x[/] :smile: é 学") == "[/b] \\ [bold]x[/] :smile: é 学"


@settings(deadline=None)
@given(values, values)
@example("[/b]", "[red]Ann")
@example("[bold red]Error:[/] forged", ":smile:")
def test_text_and_line_and_say_show_values_literally(first: str, second: str) -> None:
    expected = render.visible(first) + render.visible(second)
    assert printed(render.text(first)) == render.visible(first) + "\n"
    assert printed(render.line((first, "bold red"), second)) == expected + "\n"
    assert printed(render.line(render.text(first), Text(render.visible(second)))) == expected + "\n"
    assert said(render.say, ("Error:", "bold red"), " ", first, second) == (f"Error: {expected}\n")


@settings(deadline=None)
@given(values)
@example("[/b]")
def test_json_renderers_round_trip_any_value(value: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        render.print_json({"name": value, "issue": issue(value)})
    data = json.loads(out.getvalue())
    assert data["name"] == value and data["issue"]["fix"] == value
    assert render.to_jsonable(issue(value))["message"].startswith(f"grade {value}")
    assert render.report_json(report(value))["issues"][0]["sourced_id"] == value


@settings(deadline=None, max_examples=50)
@given(values)
@example("[/b]")
def test_counts_table_title(value: str) -> None:
    out = printed(render.counts_table(report(value), value))
    assert_title(out, value)
    assert "students" in out


@settings(deadline=None)
@given(values)
@example("[/b]")
@example("[link=https://attacker.example/]click[/link]")
def test_issues_table_cells(value: str) -> None:
    out = printed(render.issues_table([issue(value)]))
    shown_value = render.visible(value)
    assert f"{shown_value} {shown_value} (error)" in out
    assert f"grade {shown_value} is not a CEDS grade code" in out
    assert out.count(shown_value) >= 4


@settings(deadline=None, max_examples=50)
@given(values, st.sampled_from([None, 0, 1, 50]))
@example("[/b]", 50)
def test_print_report_of_a_run(value: str, limit: int | None) -> None:
    shown_value = render.visible(value)
    out = said(render.print_report, report(value), title=value, issue_limit=limit)
    assert f"Run {shown_value}: succeeded in " in out
    assert f"Skipped on purpose: {render.visible(value.replace('_', ' '))}: 2" in out
    if limit == 0:
        assert f"1 validation issues still open: rostersync issues {shown_value}" in out
    else:
        assert f"grade {shown_value} is not a CEDS grade code" in out

    failed = said(render.print_report, report(value, status="failed"), title=value)
    assert failed == f"Sync failed (run {shown_value}): {shown_value}\n"

    reason = said(render.print_status_reason, report(value, status="held"))
    assert reason == ("" if not value else f"Held: {shown_value}\n")


@settings(deadline=None)
@given(values, values)
@example("[/b]", "[red]Ann")
@example("Open issues of [bold]x[/]", "\\")
def test_rows_table_title_and_cells(title: str, value: str) -> None:
    rows = [{"grade": value, "given_name": value, "email": None}, issue(value)]
    out = printed(render.rows_table(title, rows, ["grade", "given_name", "email", "fix"]))
    assert_title(out, title)
    assert f"│ {render.visible(value)}" in out


@settings(deadline=None)
@given(values, values)
@example("[/b]", "[red]Ann")
@example("District springfield", "\x1b[31mred\x1b[0m")
def test_facts_table_shows_each_field_on_its_own_line(title: str, value: str) -> None:
    facts = {
        "display_name": value,
        "data_manager_emails": [value, "b@x.example"],
        "tenant_id": None,
    }
    out = printed(render.facts_table(title, facts))
    assert_title(out, title)
    lines = out.splitlines()
    assert any(line.startswith("│ Display name ") for line in lines)
    assert f"{render.visible(value)}, b@x.example" in out
    assert any(line.split() == ["│", "Tenant", "id", "│", "—", "│"] for line in lines)


@settings(deadline=None)
@given(values)
@example("[/b]")
@example("{task.description}")
def test_progress_lines_show_the_collection(collection: str) -> None:
    bar = render.progress_bar()
    with render.sync_progress(bar) as observer:
        observer(CollectionPulled("run", collection, 7))
        observer(CollectionPulled("run", collection, 12))
    (task,) = bar.tasks
    assert printed(bar.make_tasks_table([task])).startswith(
        f"Pulling {render.visible(collection)} "
    )
    assert isinstance(bar, Progress) and task.completed == 12


def test_the_tricky_values_are_all_exercised() -> None:
    """The named cases are drawn explicitly too, not left to chance."""
    for value in TRICKY:
        test_issues_table_cells.hypothesis.inner_test(value)  # type: ignore[attr-defined]
        test_print_report_of_a_run.hypothesis.inner_test(value, 50)  # type: ignore[attr-defined]
        test_rows_table_title_and_cells.hypothesis.inner_test(value, value)  # type: ignore[attr-defined]
