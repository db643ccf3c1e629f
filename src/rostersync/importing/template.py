"""The downloadable staff import template, as CSV or XLSX bytes.

The CSV template is the header and one example row whose first cell starts with `#`, which the
reader skips, so a person can leave it in. The XLSX template has the header alone on its first
sheet, "Staff", and an "Instructions" sheet with the columns, the roles and an example.
"""

from __future__ import annotations

import csv
import io

from rostersync.domain.staff_import import COLUMNS, OPTIONAL_COLUMNS, STAFF_ROLES
from rostersync.errors import ConfigError

TEMPLATE_FORMATS = ("csv", "xlsx")

EXAMPLE = (
    "# Example – this row is ignored: Jordan",
    "Rivera",
    "jordan.rivera@springfield.example",
    "librarian",
    "SCH-104",
    "E10442",
)

_DESCRIPTIONS = {
    "first_name": "The person's first name. Required.",
    "last_name": "The person's last name. Required.",
    "email": "Work email, unique in the district; it is how they sign in. Required.",
    "role": f"One of: {', '.join(STAFF_ROLES)}. Required.",
    "school_identifier_or_sourced_id": (
        "The school's identifier or ClassLink sourcedId, as the portal lists it. Required."
    ),
    "staff_id": "The district's staff ID, if it has one. Optional.",
}


def staff_template(fmt: str) -> bytes:
    """The import template in `fmt` ("csv" or "xlsx").

    Raises:
        ConfigError: Another format was asked for.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt == "csv":
        return _csv()
    if fmt == "xlsx":
        return _xlsx()
    raise ConfigError(f"no {fmt!r} template: ask for csv or xlsx")


def _csv() -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow(EXAMPLE)
    # A byte-order mark makes Excel open the file as UTF-8 (names with accents stay intact).
    return out.getvalue().encode("utf-8-sig")


def _xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    staff = book.active
    assert staff is not None  # a new Workbook always has its first sheet
    staff.title = "Staff"
    staff.append(list(COLUMNS))
    for cell in staff[1]:
        cell.font = Font(bold=True)
    staff.freeze_panes = "A2"
    for letter, width in zip("ABCDEF", (16, 18, 36, 18, 32, 12), strict=True):
        staff.column_dimensions[letter].width = width

    notes = book.create_sheet("Instructions")
    notes.append(["Staff import: one row per person on the Staff sheet, below the header."])
    notes.append(["Keep the header row. Columns may be in any order; blank rows are skipped."])
    notes.append(["If any row has a problem, nothing is imported and every problem is listed."])
    notes.append([])
    notes.append(["Column", "What to enter"])
    for column in COLUMNS:
        optional = " (optional)" if column in OPTIONAL_COLUMNS else ""
        notes.append([column + optional, _DESCRIPTIONS[column]])
    notes.append([])
    notes.append(["Example row:"])
    notes.append([EXAMPLE[0].rsplit(": ", 1)[-1], *EXAMPLE[1:]])
    notes.column_dimensions["A"].width = 36
    notes.column_dimensions["B"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
