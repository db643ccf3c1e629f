"""Reading staff import files: encodings, sheets, structural refusals, and the template."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from rostersync.errors import ConfigError, SpreadsheetRejected
from rostersync.importing import read_staff_sheet, staff_template

HEADER = "first_name,last_name,email,role,school_identifier_or_sourced_id,staff_id"


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join([HEADER, *lines, ""]).encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for values in rows:
            sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def refusal(filename: str, data: bytes, **kw: Any) -> str:
    with pytest.raises(SpreadsheetRejected) as caught:
        read_staff_sheet(filename, data, **kw)
    assert caught.value.filename == filename
    return str(caught.value)


ROW = ["Zoë", "Núñez", "zoe@x.org", "coach", "0101", 4417]


class TestCsvEncodings:
    """CSV is read as UTF-8 (with or without BOM) or Windows-1252; anything else is refused."""

    def test_utf8_with_a_byte_order_mark(self) -> None:
        sheet = read_staff_sheet("s.csv", b"\xef\xbb\xbf" + csv_bytes("Zoë,Núñez,z@x.org,coach,1,"))
        assert sheet.encoding == "utf-8-sig"
        assert sheet.rows[0].cells["first_name"] == "Zoë"

    def test_windows_1252_as_excel_writes_it(self) -> None:
        sheet = read_staff_sheet(
            "s.csv", csv_bytes("Zoë,Núñez,z@x.org,coach,1,", encoding="cp1252")
        )
        assert sheet.encoding == "cp1252"
        assert (sheet.rows[0].cells["first_name"], sheet.rows[0].cells["last_name"]) == (
            "Zoë",
            "Núñez",
        )

    def test_utf16_is_refused_with_how_to_save_as_csv(self) -> None:
        message = refusal("s.csv", csv_bytes("Zoë,N,z@x.org,coach,1,", encoding="utf-16"))
        assert "UTF-16" in message and "CSV UTF-8" in message

    def test_bytes_that_are_neither_utf8_nor_cp1252_are_refused(self) -> None:
        message = refusal("s.csv", csv_bytes("Zo\x81,N,z@x.org,coach,1,", encoding="latin-1"))
        assert "neither UTF-8 nor Windows-1252" in message

    def test_semicolon_separated_files_from_european_excel_read(self) -> None:
        data = (HEADER.replace(",", ";") + "\r\nA;B;a@x.org;aide;1;\r\n").encode()
        assert read_staff_sheet("s.csv", data).rows[0].cells["role"] == "aide"


class TestStructure:
    """A file whose structure is wrong is refused whole, with what is wrong and how to fix it."""

    def test_an_empty_file(self) -> None:
        assert "the file is empty" in refusal("s.csv", b"  \r\n")

    def test_a_header_without_rows(self) -> None:
        assert "no staff rows" in refusal("s.csv", csv_bytes())

    def test_a_missing_column_is_named(self) -> None:
        data = b"first_name,last_name,role,school_identifier_or_sourced_id\r\nA,B,aide,1\r\n"
        assert "no email column" in refusal("s.csv", data)

    def test_columns_in_another_order_are_fine(self) -> None:
        data = (
            b"email,role,last_name,school_identifier_or_sourced_id,first_name\r\n"
            b"a@x.org,aide,B,1,A\r\n"
        )
        assert read_staff_sheet("s.csv", data).rows[0].cells["first_name"] == "A"

    def test_too_many_rows(self) -> None:
        data = csv_bytes(*[f"A,B,a{n}@x.org,aide,1," for n in range(4)])
        assert "more than 3 staff rows" in refusal("s.csv", data, max_rows=3)
        assert len(read_staff_sheet("s.csv", data, max_rows=4).rows) == 4

    def test_a_value_outside_the_headed_columns(self) -> None:
        assert "row 2 has a value in column G" in refusal(
            "s.csv", csv_bytes("A,B,a@x.org,aide,1,,x")
        )

    def test_legacy_xls_and_a_fake_xlsx_are_refused(self) -> None:
        assert ".xls workbook" in refusal("s.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest")
        assert "not an Excel workbook" in refusal("s.xlsx", b"first_name\r\n")

    def test_row_numbers_are_excels_and_blank_and_note_rows_are_skipped(self) -> None:
        data = csv_bytes(
            "# an example,x,y,z,w,", "", "A,B,a@x.org,aide,1,", ",,,,,", "C,D,c@x.org,aide,1,"
        )
        assert [r.row for r in read_staff_sheet("s.csv", data).rows] == [4, 6]


class TestXlsx:
    """XLSX is read from the first sheet or a sheet named Staff, values only."""

    def test_the_staff_sheet_is_read_wherever_it_is(self) -> None:
        data = xlsx_bytes({"Notes": [["hello"]], "Staff": [HEADER.split(","), ROW]})
        sheet = read_staff_sheet("s.xlsx", data)
        assert sheet.sheet == "Staff"
        assert sheet.rows[0].row == 2
        # Excel's numbers are the text a person sees: 4417, not 4417.0.
        assert sheet.rows[0].cells["staff_id"] == "4417"
        assert sheet.rows[0].cells["last_name"] == "Núñez"

    def test_otherwise_the_first_sheet_is_read(self) -> None:
        data = xlsx_bytes({"Sheet1": [HEADER.split(","), ROW], "Other": []})
        assert read_staff_sheet("s.xlsx", data).sheet == "Sheet1"

    def test_a_list_on_another_sheet_is_refused_naming_that_sheet(self) -> None:
        data = xlsx_bytes({"Read me": [["notes"]], "People": [HEADER.split(","), ROW]})
        message = refusal("s.xlsx", data)
        assert "first sheet or on a sheet named Staff" in message and "'People'" in message

    def test_a_formula_is_not_evaluated_and_is_reported_in_its_cell(self) -> None:
        data = xlsx_bytes({"Staff": [HEADER.split(","), [*ROW[:2], '=LOWER("Z@X.ORG")', *ROW[3:]]]})
        row = read_staff_sheet("s.xlsx", data).rows[0]
        assert row.formulas == ("email",)
        assert row.cells["email"] == ""

    def test_an_xlsx_renamed_csv_is_still_read_as_a_workbook(self) -> None:
        data = xlsx_bytes({"Staff": [HEADER.split(","), ROW]})
        assert read_staff_sheet("staff.csv", data).format == "xlsx"


class TestTemplate:
    """The template reads back as a valid, empty staff list whose example row is ignored."""

    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    def test_the_template_has_the_header_and_no_staff_rows(self, fmt: str) -> None:
        assert "no staff rows" in refusal(f"t.{fmt}", staff_template(fmt))

    def test_the_xlsx_template_explains_itself_on_a_second_sheet(self) -> None:
        book = openpyxl.load_workbook(io.BytesIO(staff_template("xlsx")))
        assert book.sheetnames == ["Staff", "Instructions"]
        text = " ".join(
            str(c) for row in book["Instructions"].iter_rows(values_only=True) for c in row
        )
        assert "paraprofessional" in text and "nothing is imported" in text

    def test_a_filled_in_csv_template_reads(self) -> None:
        data = staff_template("csv") + b"A,B,a@x.org,aide,1,\r\n"
        assert [r.row for r in read_staff_sheet("t.csv", data).rows] == [3]

    def test_other_formats_are_refused(self) -> None:
        with pytest.raises(ConfigError, match="csv or xlsx"):
            staff_template("ods")
