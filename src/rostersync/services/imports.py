"""Imports: non-teaching staff from a spreadsheet, and accounts made by hand where no roster
comes from ClassLink."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Connection

from rostersync.domain import staff_import
from rostersync.domain.issue_groups import source_message
from rostersync.errors import AccountRejected, ManualRosteringDisabled
from rostersync.importing import read_staff_sheet, staff_template
from rostersync.providers import PROVIDERS
from rostersync.services.context import ServiceContext
from rostersync.store import accounts as store_accounts
from rostersync.store import districts as store_districts

_log = structlog.get_logger(__name__)


class Imports:
    """Accounts that do not come from a roster: staff spreadsheets and hand-made accounts."""

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._engine = context.engine

    def template(self, fmt: str) -> bytes:
        """The staff import template as CSV or XLSX bytes (see `rostersync.importing`).

        Raises:
            ConfigError: `fmt` is neither "csv" nor "xlsx".
        """
        return staff_template(fmt)

    def import_staff(
        self,
        slug_or_id: str,
        filename: str,
        data: bytes,
        actor: str,
        *,
        dry_run: bool = False,
        max_rows: int | None = None,
    ) -> staff_import.ImportReport:
        """Import non-teaching staff from a CSV or XLSX file: every row, or none.

        Each row becomes an educator account with its role, `manually_rostered`, no sourcedId,
        and an audit row naming `actor`. If any row has an error nothing is written and the
        report lists every error by row and column; otherwise all rows are inserted in bulk in
        one transaction.

        Args:
            slug_or_id: The district.
            filename: The uploaded file's name (for messages).
            data: The file's bytes.
            actor: The staff user importing, for the audit log.
            dry_run: Check everything but write nothing.
            max_rows: Most data rows accepted (default: `Settings.import_max_rows`).

        Raises:
            SpreadsheetRejected: The file's structure is unusable (nothing was read from it).
            NotFoundError: No such district.
        """
        limit = max_rows or self._context.settings.import_max_rows
        sheet = read_staff_sheet(filename, data, max_rows=limit)
        started = time.monotonic()
        with self._engine.begin() as conn:
            district = store_districts.get_district(conn, slug_or_id)
            integration = store_districts.get_integration(conn, district.id)
            emails = [staff_import.normal_email(r.cells.get("email", "")) for r in sheet.rows]
            accounts, errors = staff_import.validate_staff_rows(
                sheet.rows,
                schools=staff_import.school_lookup(store_accounts.schools(conn, district.id)),
                emails_in_use=store_accounts.emails_in_use(conn, district.id, emails),
                allow_teachers=not staff_import.is_rostered(integration.source_kind),
            )
            # The rows' problems name the district's own source ("teachers come from Clever").
            words = PROVIDERS.audience(integration.source_kind)
            errors = [
                dataclasses.replace(
                    e, problem=source_message(e.problem, words), fix=source_message(e.fix, words)
                )
                for e in errors
            ]
            report = staff_import.ImportReport(
                filename=filename,
                rows=len(sheet.rows),
                valid=len(accounts),
                dry_run=dry_run,
                errors=errors,
            )
            if report.applied:
                report.account_ids = store_accounts.insert_educators(
                    conn,
                    district_id=district.id,
                    accounts=accounts,
                    actor=actor,
                    via="spreadsheet",
                    now=datetime.now(UTC),
                )
                report.created = len(report.account_ids)
        # Counts only: the file's names and emails never reach a log line.
        _log.info(
            "import.finished",
            district_id=district.id,
            status=report.status,
            rows=report.rows,
            created=report.created,
            errors=len(report.errors),
            seconds=round(time.monotonic() - started, 3),
        )
        return report

    def add_educator(
        self,
        slug_or_id: str,
        *,
        given_name: str,
        family_name: str,
        email: str,
        role: str,
        actor: str,
        school: str | None = None,
    ) -> str:
        """Make one educator account by hand in a district that is not rostered.

        Args:
            slug_or_id: The district.
            given_name: First name.
            family_name: Last name.
            email: Work email, unique in the district.
            role: "teacher" or one of `staff_import.STAFF_ROLES`.
            actor: The staff user, for the audit log.
            school: The school's identifier or sourcedId, if the district has schools.

        Returns:
            The new account's portal id.

        Raises:
            ManualRosteringDisabled: The district is rostered (from ClassLink, Clever, files).
            AccountRejected: The details are invalid (`.problems` lists each).
        """
        with self._engine.begin() as conn:
            district = self._manual_district(conn, slug_or_id, "teacher")
            problems = _person_problems(
                conn, district.id, given_name, family_name, email, email_required=True
            )
            roles = (staff_import.TEACHER, *staff_import.STAFF_ROLES)
            if role.strip().lower() not in roles:
                problems.append(f"role {role!r} is not one of: {', '.join(roles)}")
            found, problem = self._school(conn, district.id, school)
            problems.extend(problem)
            if problems:
                raise AccountRejected(
                    "the educator was not added: " + "; ".join(problems), problems=problems
                )
            account = staff_import.NewEducator(
                row=0,
                given_name=given_name.strip(),
                family_name=family_name.strip(),
                email=email.strip(),
                role=role.strip().lower(),
                school=found,
            )
            (portal_id,) = store_accounts.insert_educators(
                conn,
                district_id=district.id,
                accounts=[account],
                actor=actor,
                via="by hand",
                now=datetime.now(UTC),
            )
            return portal_id

    def add_student(
        self,
        slug_or_id: str,
        *,
        given_name: str,
        family_name: str,
        student_id: str,
        actor: str,
        email: str = "",
        grade: str = "",
        school: str | None = None,
    ) -> str:
        """Make one student account by hand in a district that is not rostered.

        Args:
            slug_or_id: The district.
            given_name: First name.
            family_name: Last name.
            student_id: The district's student ID, unique in the district.
            actor: The staff user, for the audit log.
            email: Email, if the student has one (unique in the district).
            grade: CEDS grade code (KG, 01–13, …), if known.
            school: The school's identifier or sourcedId, if the district has schools.

        Returns:
            The new account's portal id.

        Raises:
            ManualRosteringDisabled: The district is rostered (from ClassLink, Clever, files).
            AccountRejected: The details are invalid (`.problems` lists each).
        """
        with self._engine.begin() as conn:
            district = self._manual_district(conn, slug_or_id, "student")
            problems = _person_problems(
                conn, district.id, given_name, family_name, email, email_required=False
            )
            problems.extend(staff_import.check_grade(grade.strip()))
            if not student_id.strip():
                problems.append("the student ID is missing: give the district's student ID")
            elif store_accounts.student_ids_in_use(conn, district.id, student_id.strip()):
                problems.append(
                    "another student in this district has this student ID: the student may "
                    "already have an account, or correct the ID"
                )
            found, problem = self._school(conn, district.id, school)
            problems.extend(problem)
            if problems:
                raise AccountRejected(
                    "the student was not added: " + "; ".join(problems), problems=problems
                )
            return store_accounts.insert_student(
                conn,
                district_id=district.id,
                account=store_accounts.NewStudent(
                    given_name=given_name.strip(),
                    family_name=family_name.strip(),
                    email=email.strip(),
                    student_id=student_id.strip(),
                    grade=grade.strip(),
                    school_id=found.id if found else None,
                    school_sourced_id=found.sourced_id if found else None,
                ),
                actor=actor,
                now=datetime.now(UTC),
            )

    def _manual_district(
        self, conn: Connection, slug_or_id: str, who: str
    ) -> store_districts.DistrictRecord:
        """The district, if accounts may be made in it by hand; else say why and what instead."""
        district = store_districts.get_district(conn, slug_or_id)
        integration = store_districts.get_integration(conn, district.id)
        if staff_import.is_rostered(integration.source_kind):
            source = PROVIDERS.audience(integration.source_kind).source
            raise ManualRosteringDisabled(
                f"{district.name} is rostered from {source}, so accounts come from {source}: "
                f"add the {who} in your SIS/{source}, or import non-teaching staff with the "
                f"roster import spreadsheet (`rostersync import-staff {district.slug} <file>`)"
            )
        return district

    @staticmethod
    def _school(
        conn: Connection, district_id: str, key: str | None
    ) -> tuple[staff_import.School | None, list[str]]:
        """The school a hand-made account names, or the problem with the name."""
        if not key or not key.strip():
            return None, []
        lookup = staff_import.school_lookup(store_accounts.schools(conn, district_id))
        found = lookup.get(key.strip().lower())
        if found is None:
            return None, [
                f"no single school in this district has the identifier or sourcedId {key!r}: "
                "copy it from the portal's school list"
            ]
        return found, []

    def import_staff_rows(
        self, slug_or_id: str, filename: str, data: bytes, actor: str
    ) -> tuple[staff_import.ImportReport, list[staff_import.SheetRow]]:
        """`import_staff`, and the file's rows, for a report row by row (the upload page).

        Raises:
            SpreadsheetRejected: The file's structure is unusable (nothing was read from it).
            NotFoundError: No such district.
        """
        report = self.import_staff(slug_or_id, filename, data, actor)
        sheet = read_staff_sheet(filename, data, max_rows=self._context.settings.import_max_rows)
        return report, sheet.rows


def _person_problems(
    conn: Connection,
    district_id: str,
    given_name: str,
    family_name: str,
    email: str,
    *,
    email_required: bool,
) -> list[str]:
    """What is wrong with a hand-made account's name and email (taken emails included)."""
    in_use = store_accounts.emails_in_use(conn, district_id, [staff_import.normal_email(email)])
    return staff_import.check_person(
        given_name=given_name,
        family_name=family_name,
        email=email,
        email_required=email_required,
        emails_in_use=in_use,
    )
