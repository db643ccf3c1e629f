"""The open-issues CSV: no cell a spreadsheet would run, and UTF-8 a spreadsheet reads as such."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from types import SimpleNamespace

import pytest

from rostersync.notify.csvfile import COLUMNS, issues_csv_file, neutralise
from rostersync.notify.emails import Attachment, Email, compose


def issue(sourced_id: str, message: str = "no grade") -> SimpleNamespace:
    return SimpleNamespace(
        entity="student",
        sourced_id=sourced_id,
        field="grades",
        code="missing_grade",
        severity="error",
        message=message,
        fix="Add the grade in the SIS.",
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "cell",
    [
        " =1+1",
        "  +SUM(A1)",
        "\n-2",
        "\u00a0@cmd",
        ' \t=HYPERLINK("http://evil")',
        "\u200b=1",
        "＝1+1",
        " ＠SUM(1)",
    ],
)
def test_formulas_after_blanks_or_invisible_characters_are_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["  Ana", " O'Brien", "stu-1=2", "", "   ", "José Muñoz"])
def test_cells_that_are_not_formulas_are_kept(cell: str) -> None:
    assert neutralise(cell) == cell


def test_the_file_is_utf8_with_a_byte_order_mark_and_keeps_accents() -> None:
    data = issues_csv_file([issue("stu-1", message="Zoë Muñoz has no grade"), issue(" =1")])
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1][5] == "Zoë Muñoz has no grade"
    assert rows[2][1] == "' =1"


def test_the_attachment_declares_utf8() -> None:
    email = Email(
        to=("dm@example.org",),
        subject="s",
        text="t",
        html="<p>t</p>",
        attachments=(
            Attachment(
                filename="issues.csv",
                content=issues_csv_file([issue("stu-1")]),
                maintype="text",
                subtype="csv",
            ),
        ),
    )
    message = message_from_bytes(
        compose(email, mail_from="r@example.org").as_bytes(), _class=EmailMessage
    )
    assert isinstance(message, EmailMessage)
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content_charset() == "utf-8"
    assert attachment.get_payload(decode=True).startswith(codecs.BOM_UTF8)
