"""Rendering reports for people (Rich tables) and for programs (`--json`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from rich.console import Console
from rich.table import Table

from rostersync.domain.issues import ValidationIssue
from rostersync.domain.records import EntityKind
from rostersync.sync.pipeline import SyncReport

console = Console()
OUTCOMES = ("created", "matched", "updated", "restored", "deactivated", "unchanged", "held")


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


def counts_table(report: SyncReport, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Records")
    for outcome in OUTCOMES:
        table.add_column(outcome.capitalize(), justify="right")
    for kind in EntityKind:
        row = report.counts.get(kind.value, {})
        table.add_row(kind.plural, *(str(row.get(o, 0)) for o in OUTCOMES))
    return table


def issues_table(issues: Sequence[ValidationIssue], *, limit: int | None = None) -> Table:
    table = Table(title="Records that need the district's attention", title_justify="left")
    for column in ("Record", "Field", "Problem", "How to fix"):
        table.add_column(column, overflow="fold")
    for issue in issues[:limit] if limit else issues:
        table.add_row(
            f"{issue.entity} {issue.sourced_id}\n({issue.severity.value})",
            issue.field,
            issue.message,
            issue.fix,
        )
    return table


def print_report(report: SyncReport, *, title: str, issue_limit: int | None = 50) -> None:
    if report.status == "failed":
        console.print(f"[bold red]Sync failed[/] (run {report.run_id}): {report.error}")
        return
    console.print(counts_table(report, title))
    skipped = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(report.skipped.items()))
    console.print(
        f"Run {report.run_id}: {report.status} in {report.seconds:.1f}s, "
        f"{report.requests} requests ({report.retries} retried); "
        f"eligibility changes: {report.eligibility_changes}"
    )
    if skipped:
        console.print(f"Skipped on purpose: {skipped}")
    if report.issues and issue_limit == 0:
        console.print(
            f"{len(report.issues)} validation issues still open: rostersync issues {report.run_id}"
        )
    elif report.issues:
        console.print(issues_table(report.issues, limit=issue_limit))
        if issue_limit and len(report.issues) > issue_limit:
            console.print(
                f"… and {len(report.issues) - issue_limit} more: rostersync issues {report.run_id}"
            )
    else:
        console.print("No validation issues.")


def rows_table(title: str, rows: Iterable[Any], columns: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column.replace("_", " ").capitalize(), overflow="fold")
    for row in rows:
        data = to_jsonable(row) if not isinstance(row, dict) else row
        table.add_row(*("" if data.get(c) is None else str(data.get(c)) for c in columns))
    return table
