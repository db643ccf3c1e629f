"""Email contexts and templates: grouped issues, safe CSV cells, escaped HTML, one-line subjects."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from rostersync.notify.csvfile import issues_csv, neutralise
from rostersync.notify.emails import compose, group_issues, summary_email

NOW = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)


@dataclass
class Issue:
    entity: str
    sourced_id: str
    field: str
    code: str
    severity: str
    message: str
    fix: str
    created_at: datetime = NOW


@dataclass
class District:
    slug: str = "springfield"
    name: str = "Springfield Unified School District"
    display_name: str = "Springfield USD – Springfield, IL"


@dataclass
class Run:
    id: str = "0f6c7a52-1111-2222-3333-444455556666"
    trigger: str = "scheduled"
    status: str = "succeeded"
    started_at: datetime = NOW
    finished_at: datetime = NOW
    error: str | None = None
    counts: Any = None


def issue(sid: str, code: str = "missing_grade", **kw: Any) -> Issue:
    fields = {
        "entity": "student",
        "sourced_id": sid,
        "field": "grades",
        "code": code,
        "severity": "error",
        "message": "no grade",
        "fix": "Add the grade in the SIS.",
    }
    fields.update(kw)
    return Issue(**fields)


class TestFormulaInjection:
    """Cells a spreadsheet would evaluate are prefixed with a quote; others are untouched."""

    @pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"])
    def test_formula_starts_are_neutralised(self, cell: str) -> None:
        assert neutralise(cell) == "'" + cell

    def test_ordinary_cells_are_kept(self) -> None:
        assert neutralise("O'Brien") == "O'Brien"
        assert neutralise("stu-1=2") == "stu-1=2"

    def test_csv_rows_neutralise_every_cell(self) -> None:
        text = issues_csv([issue('=HYPERLINK("http://evil")', message="@SUM(1)")])
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[1][1] == '\'=HYPERLINK("http://evil")'
        assert rows[1][5] == "'@SUM(1)"


class TestGrouping:
    """Issues group by code, errors first and largest first, with a few examples each."""

    def test_groups_count_all_but_show_the_first_three(self) -> None:
        issues = [issue(f"s{i}") for i in range(5)] + [
            issue("c1", "missing_title", severity="warning", entity="class")
        ]
        groups = group_issues(issues)
        assert [(g["code"], g["count"]) for g in groups] == [
            ("missing_grade", 5),
            ("missing_title", 1),
        ]
        assert [e["sourced_id"] for e in groups[0]["examples"]] == ["s0", "s1", "s2"]


class TestSummaryTemplate:
    """The summary renders counts and fixes; HTML escapes source data, text keeps it as is."""

    def test_html_is_escaped_and_text_is_not(self) -> None:
        run = Run(counts={"entities": {"student": {"created": 4, "held": 1}}, "skipped": {}})
        email = summary_email(
            district=District(),
            run=run,
            open_issues=[issue("<script>alert(1)</script>", message="O'Brien & co")],
            portal_base_url="https://portal.example/",
            to=["dm@springfield.example"],
        )
        assert "<script>" not in email.html and "&lt;script&gt;" in email.html
        assert "<script>alert(1)</script>" in email.text and "O'Brien & co" in email.text
        assert f"https://portal.example/admin/runs/{run.id}" in email.text
        assert "students: created 4, updated 0, matched 0" in email.text
        assert "\n" not in email.subject
        message = compose(email, mail_from="rostersync@vendor.example")
        assert [a.get_filename() for a in message.iter_attachments()] == [
            "springfield-open-issues-0f6c7a52.csv"
        ]

    def test_no_issues_means_no_attachment(self) -> None:
        email = summary_email(
            district=District(),
            run=Run(counts={}),
            open_issues=[],
            portal_base_url="https://portal.example",
            to=["dm@springfield.example"],
        )
        assert email.attachments == ()
        assert "every record passed" in email.text
