"""The open-issues CSV, attached to a summary email and downloaded from the admin pages, safe to
open in a spreadsheet.

A cell that starts with = + - @ (or their full-width forms), after any spaces, tabs, line breaks
or invisible characters, or that starts with a tab or carriage return, would be read by Excel,
Sheets or LibreOffice as a formula (CSV injection, OWASP): spreadsheets skip leading blanks
before a formula. Such cells are prefixed with a single quote, which spreadsheets show as text.
The data comes from the district's own source, but a hostile record must not run in its data
manager's spreadsheet.

The file is UTF-8 and starts with a byte-order mark (`issues_csv_file`): without it, Excel reads a
CSV in the computer's legacy code page and turns accented names into mojibake. It is served and
attached as `text/csv; charset=utf-8`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
# What a spreadsheet skips before it looks for a formula: blanks and characters that show nothing.
_LEADING = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]*")
BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"

# The first eight columns are those of earlier releases, in their order (scripts and saved
# spreadsheet lookups read them by position); the record as people know it follows: its name,
# then what else the roster said of it.
COLUMNS = (
    "entity",
    "sourced_id",
    "field",
    "code",
    "severity",
    "message",
    "fix",
    "first_seen",
    "name",
    "role",
    "student_id",
    "grade",
    "school",
    "class_code",
)


# The `IssueRecord.subject_*` columns, in the order of their CSV cells.
SUBJECT = ("name", "role", "student_id", "grade", "school", "code")
NOT_SENT = "—"


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    if cell.startswith(FORMULA_STARTS):
        return "'" + cell
    start = _LEADING.match(cell)
    rest = cell[start.end() :] if start is not None else cell
    return "'" + cell if rest.startswith(FORMULA_STARTS) else cell


# How to fix an issue, in other words than the ones stored with it (`issues_csv`'s `fix`).
Fix = Callable[[Any], str]


def issue_row(issue: Any, fix: Fix | None = None, message: Fix | None = None) -> list[str]:
    """One issue (an `IssueRecord`) as its CSV cells, before neutralising.

    A value the roster did not send, or an issue stored before issues had names, shows as
    `NOT_SENT`: no cell is empty, so a filter or lookup in a spreadsheet never skips a row.
    `fix` words the fix cell (the portal's download, in the words of the district's source);
    without it the cell is the fix stored with the issue. `message` words the message cell the
    same way (an email to a district that pushes files), else it is the stored message.
    """
    subject = [getattr(issue, f"subject_{name}", None) or NOT_SENT for name in SUBJECT]
    return [
        issue.entity,
        issue.sourced_id,
        issue.field,
        issue.code,
        issue.severity,
        issue.message if message is None else message(issue),
        issue.fix if fix is None else fix(issue),
        issue.created_at.isoformat(),
        *subject,
    ]


def issues_csv(issues: Iterable[Any], *, fix: Fix | None = None, message: Fix | None = None) -> str:
    """Every issue as CSV text with a header row, each cell neutralised (see `issue_row`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for issue in issues:
        writer.writerow([neutralise(cell) for cell in issue_row(issue, fix, message)])
    return buffer.getvalue()


def issues_csv_file(
    issues: Iterable[Any], *, fix: Fix | None = None, message: Fix | None = None
) -> bytes:
    """The CSV as a file to attach or download: UTF-8 with a byte-order mark."""
    return (BOM + issues_csv(issues, fix=fix, message=message)).encode("utf-8")
