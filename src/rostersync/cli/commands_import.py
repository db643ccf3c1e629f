"""CLI commands for staff made outside ClassLink: the import spreadsheet and accounts by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rostersync.cli import render
from rostersync.cli.common import actor_name as _actor
from rostersync.cli.common import service as _service
from rostersync.cli.failures import Json
from rostersync.domain.staff_import import ImportReport
from rostersync.errors import SpreadsheetRejected

Actor = Annotated[
    str | None, typer.Option(help="Who is making the change, for the audit log (default: you)")
]


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the `rostersync` app."""
    app.command("import-staff")(import_staff)
    app.command("staff-template")(staff_template)
    app.command("add-educator")(add_educator)
    app.command("add-student")(add_student)


def import_staff(
    district: str,
    file: Annotated[Path, typer.Argument(help="A CSV or XLSX file made from the template")],
    dry_run: Annotated[bool, typer.Option(help="Check the file, write nothing")] = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Import non-teaching staff (librarians, aides, coaches…) from a spreadsheet: all or none."""
    report = _service().imports.import_staff(
        district, file.name, _read(file), _actor(actor), dry_run=dry_run
    )
    if as_json:
        render.print_json({**render.to_jsonable(report), "status": report.status})
    else:
        _print_report(report)
    if report.errors:
        raise typer.Exit(1)


def staff_template(
    file: Annotated[Path, typer.Argument(help="Where to write it: a .csv or .xlsx name")],
) -> None:
    """Write the staff import template (CSV, or XLSX with an Instructions sheet)."""
    data = _service().imports.template(file.suffix)
    file.write_bytes(data)
    render.say(f"Template written to {file}.")


def add_educator(
    district: str,
    first_name: Annotated[str, typer.Option()],
    last_name: Annotated[str, typer.Option()],
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="teacher, librarian, aide, coach, …")] = "teacher",
    school: Annotated[str | None, typer.Option(help="School identifier or sourcedId")] = None,
    actor: Actor = None,
) -> None:
    """Add one educator by hand (only in a district that is not rostered from ClassLink)."""
    portal_id = _service().imports.add_educator(
        district,
        given_name=first_name,
        family_name=last_name,
        email=email,
        role=role,
        school=school,
        actor=_actor(actor),
    )
    render.say(f"Added educator {portal_id}.")


def add_student(
    district: str,
    first_name: Annotated[str, typer.Option()],
    last_name: Annotated[str, typer.Option()],
    student_id: Annotated[str, typer.Option(help="The district's student ID")],
    email: Annotated[str, typer.Option()] = "",
    grade: Annotated[str, typer.Option(help="KG, 01–13, …")] = "",
    school: Annotated[str | None, typer.Option(help="School identifier or sourcedId")] = None,
    actor: Actor = None,
) -> None:
    """Add one student by hand (only in a district that is not rostered from ClassLink)."""
    portal_id = _service().imports.add_student(
        district,
        given_name=first_name,
        family_name=last_name,
        student_id=student_id,
        email=email,
        grade=grade,
        school=school,
        actor=_actor(actor),
    )
    render.say(f"Added student {portal_id}.")


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise SpreadsheetRejected(
            f"cannot read {file}: {exc.strerror}", filename=file.name
        ) from None


def _print_report(report: ImportReport) -> None:
    if report.errors:
        table = Table(
            title=render.table_title(
                f"{report.filename}: nothing was imported; fix these and upload again"
            ),
            title_justify="left",
        )
        for column in ("Row", "Column", "Problem", "How to fix"):
            table.add_column(column, overflow="fold")
        for e in report.errors:
            table.add_row(*(render.text(v) for v in (e.row, e.column, e.problem, e.fix)))
        render.console.print(table)
        return
    if report.dry_run:
        render.say(
            f"{report.filename}: all {report.rows} rows are valid; nothing was written "
            "(dry run). Run again without --dry-run to import them."
        )
    else:
        render.say(f"{report.filename}: imported {report.created} staff accounts.")
