"""The open-issues CSV attached to a summary email, safe to open in a spreadsheet.

A cell that starts with = + - @ tab or carriage return would be read by Excel or Sheets as a
formula (CSV injection, OWASP); such cells are prefixed with a single quote, which spreadsheets
show as text. The data comes from the district's own source, but a hostile record must not run
in its data manager's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = ("entity", "sourced_id", "field", "code", "severity", "message", "fix", "first_seen")


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def issue_row(issue: Any) -> list[str]:
    """One issue (an `IssueRecord`) as its CSV cells, before neutralising."""
    return [
        issue.entity,
        issue.sourced_id,
        issue.field,
        issue.code,
        issue.severity,
        issue.message,
        issue.fix,
        issue.created_at.isoformat(),
    ]


def issues_csv(issues: Iterable[Any]) -> str:
    """Every issue as CSV text with a header row, each cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for issue in issues:
        writer.writerow([neutralise(cell) for cell in issue_row(issue)])
    return buffer.getvalue()
