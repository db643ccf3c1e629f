"""Reading a staff import file (CSV or XLSX) into rows of text, or refusing it whole.

Only the file's *structure* is judged here: that it is a spreadsheet we can read, that the header
names the template's columns, that it is not empty or too long. Each refusal is a
`SpreadsheetRejected` that says what is wrong and how to fix it. What the cells say is judged by
`rostersync.domain.staff_import.validate_staff_rows`.

The format is decided by the bytes, not the name: an Excel workbook renamed `.csv` still reads.
CSV must be UTF-8 (with or without a byte-order mark) or Windows-1252, which Excel's plain
"CSV (Comma delimited)" writes on Windows; anything else is refused rather than guessed at.
XLSX is read in openpyxl's read-only mode, values only: a formula is never evaluated, and one
without a saved value is reported on its row.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from rostersync.domain.staff_import import COLUMNS, SheetRow, check_columns, normal_header
from rostersync.errors import SpreadsheetRejected

DEFAULT_MAX_ROWS = 5000
STAFF_SHEET = "staff"
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the legacy .xls container


@dataclass(slots=True, kw_only=True)
class StaffSheet:
    """A readable staff list: its data rows and how it was read."""

    format: str
    rows: list[SheetRow] = field(default_factory=list)
    sheet: str | None = None
    encoding: str | None = None


def read_staff_sheet(filename: str, data: bytes, *, max_rows: int = DEFAULT_MAX_ROWS) -> StaffSheet:
    """Read a staff import file.

    Args:
        filename: The name the person uploaded, used only in messages.
        data: The file's bytes.
        max_rows: The most data rows accepted (blank and `#` note rows are not counted).

    Returns:
        The data rows, numbered as Excel shows them (the header is row 1).

    Raises:
        SpreadsheetRejected: The file is empty, unreadable, in an unknown encoding, has the
            wrong columns or sheet, or has more than `max_rows` rows.
    """
    if not data.strip():
        raise _rejected(filename, "the file is empty: fill in the template and upload it again")
    if data.startswith(_OLE):
        raise _rejected(
            filename,
            "this is an old-style Excel .xls workbook: in Excel choose File › Save As › "
            "Excel Workbook (.xlsx) or CSV UTF-8, and upload that",
        )
    if data.startswith(_ZIP):
        return _read_xlsx(filename, data, max_rows)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise _rejected(
            filename,
            "the file is named .xlsx but is not an Excel workbook: save it from Excel as "
            "Excel Workbook (.xlsx), or as CSV UTF-8",
        )
    return _read_csv(filename, data, max_rows)


def _rejected(filename: str, message: str) -> SpreadsheetRejected:
    return SpreadsheetRejected(f"{filename}: {message}", filename=filename)


# CSV -------------------------------------------------------------------------------------------


def _decode(filename: str, data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 (BOM or not), else Windows-1252, else refuse."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise _rejected(
            filename,
            "the file is UTF-16 text (Excel's 'Unicode Text'), which is not CSV: save it as "
            "CSV UTF-8 (Comma delimited) instead",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        # Excel's plain "CSV (Comma delimited)" on Windows; five bytes are undefined in it, so a
        # file in another single-byte encoding often fails here rather than decoding wrongly.
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise _rejected(
            filename,
            f"the file is neither UTF-8 nor Windows-1252 text (unreadable byte at position "
            f"{exc.start}): in Excel choose File › Save As › CSV UTF-8 (Comma delimited)",
        ) from None


def _read_csv(filename: str, data: bytes, max_rows: int) -> StaffSheet:
    text, encoding = _decode(filename, data)
    first_line = text.split("\n", 1)[0]
    # Excel writes semicolons (or tabs) where the decimal separator is a comma.
    delimiter = ","
    if "," not in first_line:
        delimiter = ";" if ";" in first_line else "\t" if "\t" in first_line else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise _rejected(
            filename, f"the file is not valid CSV ({exc}); save it again from the template"
        ) from None
    sheet = StaffSheet(format="csv", encoding=encoding)
    sheet.rows = _rows(filename, iter(records), max_rows, where="the file")
    return sheet


# XLSX ------------------------------------------------------------------------------------------


def _read_xlsx(filename: str, data: bytes, max_rows: int) -> StaffSheet:
    import openpyxl  # imported here: the CSV path and the CLI's start-up do not need it
    from openpyxl.utils.exceptions import InvalidFileException

    with warnings.catch_warnings():
        # openpyxl warns about styles and extensions it ignores; they do not affect values.
        warnings.simplefilter("ignore", UserWarning)
        try:
            values_book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            formula_book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
            raise _rejected(
                filename,
                "the file is not a readable Excel workbook: open it in Excel and save it as "
                "Excel Workbook (.xlsx), or as CSV UTF-8",
            ) from None
        try:
            return _read_book(filename, values_book, formula_book, max_rows)
        finally:
            values_book.close()
            formula_book.close()


def _read_book(filename: str, values_book: Any, formula_book: Any, max_rows: int) -> StaffSheet:
    names: list[str] = list(values_book.sheetnames)
    chosen = next((n for n in names if n.strip().lower() == STAFF_SHEET), names[0])
    values = values_book[chosen].iter_rows(values_only=True)
    formulas = formula_book[chosen].iter_rows(values_only=True)
    header = next(values, None)
    next(formulas, None)
    if header is None or check_columns(_texts(header)):
        other = _sheet_with_columns(values_book, [n for n in names if n != chosen])
        if other is not None:
            raise _rejected(
                filename,
                f"the staff list must be on the first sheet or on a sheet named Staff, but it "
                f"is on sheet {other!r}: rename that sheet to Staff (or move it first)",
            )
    rows = _rows(
        filename,
        _with_formulas(values, formulas, header),
        max_rows,
        where=f"sheet {chosen!r}",
    )
    return StaffSheet(format="xlsx", sheet=chosen, rows=rows)


def _with_formulas(
    values: Iterator[Sequence[Any]], formulas: Iterator[Sequence[Any]], header: Sequence[Any] | None
) -> Iterator[list[str] | tuple[list[str], tuple[int, ...]]]:
    """The header, then each row's text with the positions of formulas that have no value."""
    if header is None:
        return
    yield _texts(header)
    for value_row, formula_row in zip(values, formulas, strict=False):
        texts = _texts(value_row)
        unsaved = tuple(
            i
            for i, raw in enumerate(formula_row)
            if isinstance(raw, str)
            and raw.startswith("=")
            and (i >= len(value_row) or value_row[i] is None)
        )
        yield (texts, unsaved) if unsaved else texts


def _sheet_with_columns(book: Any, names: Sequence[str]) -> str | None:
    for name in names:
        header = next(book[name].iter_rows(values_only=True, max_row=1), None)
        if header is not None and not check_columns(_texts(header)):
            return name
    return None


def _texts(row: Sequence[Any]) -> list[str]:
    return [_text(v) for v in row]


def _text(value: Any) -> str:
    """A cell value as the text a person sees (12345.0 from Excel is the staff ID 12345)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


# Both formats ----------------------------------------------------------------------------------


def _rows(
    filename: str,
    records: Iterator[Any],
    max_rows: int,
    *,
    where: str,
) -> list[SheetRow]:
    """Check the header, then number and key the data rows (skipping blank and `#` rows)."""
    header = next(records, None)
    if header is None or not any(cell.strip() for cell in header):
        raise _rejected(
            filename,
            f"the first row of {where} is empty: the first row must be the header "
            f"({', '.join(COLUMNS)}), as in the template",
        )
    problems = check_columns(header)
    if problems:
        raise _rejected(filename, "; ".join(problems))
    names = [normal_header(h) for h in header]
    rows: list[SheetRow] = []
    for number, record in enumerate(records, start=2):
        cells, unsaved = record if isinstance(record, tuple) else (record, ())
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue  # blank rows, and the template's `#` example and note rows
        extra = [i for i in range(len(names), len(cells)) if cells[i].strip()]
        if extra:
            raise _rejected(
                filename,
                f"row {number} has a value in column {_column_letter(extra[0])}, which has no "
                "header: give the column a template header, or delete the value",
            )
        if len(rows) >= max_rows:
            raise _rejected(
                filename,
                f"{where} has more than {max_rows} staff rows, the most one import takes: "
                "split it into several files",
            )
        keyed = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(names) if name}
        rows.append(
            SheetRow(
                row=number,
                cells=keyed,
                formulas=tuple(names[i] for i in unsaved if i < len(names) and names[i]),
            )
        )
    if not rows:
        raise _rejected(
            filename,
            f"{where} has a header but no staff rows: add one row per person below the header",
        )
    return rows


def _column_letter(index: int) -> str:
    """Excel's name for a zero-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
