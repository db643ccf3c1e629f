"""Rendering reports for people (Rich tables and lines) and for programs (`--json`).

Every value shown to a person goes through this module, and no value is ever read as Rich markup:
the console parses no markup, emoji codes or highlighting, styles are given as `(text, style)`
pairs to `line`/`say` rather than written as `[bold]…[/]` around data, and control characters
(escape sequences, carriage returns, line breaks, bidirectional overrides) are shown as visible
escapes by `visible`, so a roster value such as a grade of `[/b]`, a name like `[red]Ann` or a
server message with bracketed words prints exactly as it is and cannot rewrite the terminal.
"""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from rostersync.domain.issue_groups import Audience, problem_fix, record_words, source_message
from rostersync.domain.issues import IssueSubject
from rostersync.domain.records import EntityKind
from rostersync.domain.references import split_skipped
from rostersync.sync.events import CollectionPulled, Event, Observer
from rostersync.sync.pipeline import SyncReport

# markup/emoji/highlight off: even a string handed to `console.print` by mistake is shown as is.
console = Console(markup=False, emoji=False, highlight=False)
OUTCOMES = ("created", "matched", "updated", "restored", "deactivated", "unchanged", "held")

# A piece of a line: plain text, or (text, Rich style) for emphasis. Never markup.
Part = str | tuple[str, str] | Text

# Format characters that reorder what a terminal shows (the "Trojan Source" family).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def visible(value: object) -> str:
    """The text of `value` as it is shown: control characters become `\\xNN`/`\\uNNNN` escapes.

    Escaped: C0/C1 controls (ESC, CR, LF, TAB, BEL, DEL, …), the line and paragraph separators,
    and bidirectional formatting characters. Everything else, brackets and backslashes included,
    is kept exactly, so the shown value is the value.
    """
    text = str(value)
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(_escape(c) for c in text)


def _escape(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS:
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def text(value: object, style: str = "") -> Text:
    """One data value as a Rich `Text`: shown literally (see `visible`), never parsed."""
    return Text(visible(value), style=style)


def table_title(value: object) -> Text:
    """A table's title: shown literally and whole, even when wider than the table below it."""
    return Text(visible(value), no_wrap=True, overflow="ignore")


def line(*parts: Part) -> Text:
    """A line assembled from plain parts and `(text, style)` parts; no part is read as markup."""
    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        elif isinstance(part, tuple):
            out.append(visible(part[0]), style=part[1])
        else:
            out.append(visible(part))
    return out


def say(*parts: Part) -> None:
    """Print one line (see `line`), soft-wrapped so long values are never cut by a line break."""
    console.print(line(*parts), soft_wrap=True)


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr
        }
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2, sort_keys=True))


def report_json(report: SyncReport) -> dict[str, Any]:
    data = to_jsonable(report)
    data["issues"] = [to_jsonable(i) for i in report.issues]
    return dict(data)


def counts_table(report: SyncReport, name: str) -> Table:
    table = Table(title=table_title(name), title_justify="left")
    table.add_column("Records")
    for outcome in OUTCOMES:
        table.add_column(outcome.capitalize(), justify="right")
    for kind in EntityKind:
        row = report.counts.get(kind.value, {})
        table.add_row(text(kind.plural), *(text(row.get(o, 0)) for o in OUTCOMES))
    return table


class _Issue(Protocol):
    """A validation issue, as a run found it (`ValidationIssue`) or as it is stored."""

    @property
    def entity(self) -> str: ...
    @property
    def sourced_id(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def fix(self) -> str: ...


def issues_table(
    issues: Sequence[_Issue],
    *,
    limit: int | None = None,
    title: str = "Records that need the district's attention",
    audience: Audience = Audience.CLASSLINK,
) -> Table:
    """Issues in four columns (record, field, problem, fix), readable at 80 columns.

    The record is named as people know it when the issue says (its name, then role, student
    ID, grade and school, each on a line of its own; an enrollment as "student in class
    (code)"), then by its kind and ClassLink sourcedId. The problem and its fix are said for
    the district's source (`audience`): a district that pushes files is told to fix the file
    and push it again, as its emails and issues page say; a ClassLink district reads the fix
    stored with the issue, written for it, in its own source's name (ClassLink, Clever).
    """
    table = Table(title=table_title(title), title_justify="left")
    for column in ("Record", "Field", "Problem", "How to fix"):
        table.add_column(column, overflow="fold")
    for issue in issues[:limit] if limit else issues:
        record = line(
            *_subject_lines(issue), f"{issue.entity} {issue.sourced_id}", " ", f"({issue.severity})"
        )
        table.add_row(
            record,
            text(issue.field),
            text(source_message(issue.message, audience)),
            text(_fix(issue, audience)),
        )
    return table


def _fix(issue: _Issue, audience: Audience) -> str:
    if audience.files:
        return problem_fix(issue.code, [issue.entity], audience, issue.fix)
    return source_message(issue.fix, audience)  # "in Clever" for a district read from Clever


def _subject_lines(issue: _Issue) -> list[Part]:
    # `ValidationIssue.subject` or `IssueRecord.subject`; absent from issues stored unnamed.
    subject: IssueSubject | None = getattr(issue, "subject", None)
    words = record_words(issue.entity, subject)
    parts: list[Part] = []
    if words.name:
        parts += [(words.name, "bold"), Text("\n")]
    if words.details:
        parts += [words.details, Text("\n")]
    return parts


def print_report(
    report: SyncReport,
    *,
    title: str,
    issue_limit: int | None = 50,
    audience: Audience = Audience.CLASSLINK,
) -> None:
    """A run's counts, how it ended, and its issues (fixes said for `audience`)."""
    if report.status == "failed":
        say(("Sync failed", "bold red"), f" (run {report.run_id}): {report.error}")
        return
    console.print(counts_table(report, title))
    on_purpose, waiting = split_skipped(report.skipped)
    skipped = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in on_purpose.items())
    say(
        f"Run {report.run_id}: {report.status} in {report.seconds:.1f}s, "
        f"{report.requests} requests ({report.retries} retried); "
        f"eligibility changes: {report.eligibility_changes}"
    )
    if skipped:
        say(f"Skipped on purpose: {skipped}")
    for sentence in waiting:  # held for another record's error, not skipped on purpose
        say(f"Waiting for another record's fix: {sentence}")
    if report.issues and issue_limit == 0:
        say(f"{len(report.issues)} validation issues still open: rostersync issues {report.run_id}")
    elif report.issues:
        console.print(issues_table(report.issues, limit=issue_limit, audience=audience))
        if issue_limit and len(report.issues) > issue_limit:
            say(f"… and {len(report.issues) - issue_limit} more: rostersync issues {report.run_id}")
    else:
        say("No validation issues.")


def print_status_reason(report: SyncReport) -> None:
    """Why a run was held, previewed, skipped or failed, when the pipeline said why."""
    if report.reason:
        say((f"{report.status.capitalize()}:", "bold yellow"), f" {report.reason}")


def rows_table(name: str, rows: Iterable[Any], columns: Sequence[str]) -> Table:
    table = Table(title=table_title(name), title_justify="left")
    for column in columns:
        table.add_column(column.replace("_", " ").capitalize(), overflow="fold")
    for row in rows:
        data = to_jsonable(row) if not isinstance(row, dict) else row
        table.add_row(*(text("" if data.get(c) is None else data.get(c)) for c in columns))
    return table


def facts_table(name: str, values: Mapping[str, Any]) -> Table:
    """One record as a page: a line per field, its label then its value, readable at 80 columns
    however many fields it has (a one-row table with a column per field is not)."""
    table = Table(title=table_title(name), title_justify="left", show_header=False)
    table.add_column("Field", style="bold", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for field, value in values.items():
        table.add_row(text(field.replace("_", " ").capitalize()), text(_fact(value)))
    return table


def _fact(value: Any) -> str:
    data = to_jsonable(value)
    if data is None or data == [] or data == {}:
        return "—"
    if isinstance(data, bool):
        return "yes" if data else "no"
    if isinstance(data, list):
        return ", ".join(str(item) for item in data)
    if isinstance(data, dict):
        return ", ".join(f"{key}: {item}" for key, item in data.items())
    return str(data)


def progress_bar() -> Progress:
    """The progress display of a sync: one line per collection, its name shown literally.

    Shown only on an interactive terminal: piped or captured output gets the answer alone.
    """
    return Progress(
        TextColumn("Pulling {task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed} records", markup=False),
        console=console,
        transient=True,
        disable=not console.is_interactive,
    )


@contextmanager
def sync_progress(bar: Progress | None = None) -> Iterator[Observer]:
    """A progress display (`progress_bar` unless given): an observer of the run's pull."""
    tasks: dict[str, TaskID] = {}
    with bar or progress_bar() as shown:

        def observer(event: Event) -> None:
            if not isinstance(event, CollectionPulled):
                return
            if event.collection not in tasks:
                tasks[event.collection] = shown.add_task(visible(event.collection), total=None)
            shown.update(tasks[event.collection], completed=event.records)

        yield observer
