"""Staff import and hand-made accounts, through the service API, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, insert, select

from rostersync.errors import AccountRejected, ManualRosteringDisabled, SpreadsheetRejected
from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.store import tables

HEADER = "first_name,last_name,email,role,school_identifier_or_sourced_id,staff_id"
KEY, SECRET = "springfield-key", "springfield-secret-9Zq"


def onboard(portal: Services, slug: str, *, rostered: bool = True, url: str = "") -> str:
    answers: dict[str, Any] = {
        "slug": slug,
        "name": f"{slug.title()} USD",
        "display_name": f"{slug.title()} USD – {slug.title()}, IL",
        "city": slug.title(),
        "state": "IL",
    }
    if rostered:
        answers.update(source_url=url or f"https://{slug}.example/ims/oneroster/v1p1")
        answers.update(key=KEY, secret=SECRET)
    else:
        answers["source_kind"] = "none"
    return portal.districts.add(Questionnaire(**answers)).id


def add_schools(portal: Services, district_id: str) -> None:
    """Two schools as a first sync would have made them (identifier 0101 and 0102)."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"school-{district_id[:8]}-{n}",
            "district_id": district_id,
            "sourced_id": f"org-{n}",
            "content_hash": "x",
            "created_at": now,
            "updated_at": now,
            "name": f"School {n}",
            "type": "school",
            "identifier": f"0{n}",
        }
        for n in (101, 102)
    ]
    with portal.engine.begin() as conn:
        conn.execute(insert(tables.orgs), rows)


def staff_csv(*lines: str) -> bytes:
    return "\r\n".join([HEADER, *lines, ""]).encode("utf-8-sig")


def count(portal: Services, table: Any, district_id: str) -> int:
    with portal.engine.connect() as conn:
        stmt = select(func.count()).select_from(table).where(table.c.district_id == district_id)
        return int(conn.execute(stmt).scalar_one())


GOOD = (
    "Marian,Paroo,marian@springfield.example,librarian,0101,E100",
    "Harold,Hill,harold@springfield.example,Coach,org-102,",
    "Eulalie,Shinn,eulalie@springfield.example,paraprofessional,0102,",
)


class TestImport:
    """A valid file becomes manually rostered educators with their roles and an audit row each."""

    def test_every_row_is_created_with_its_role_school_and_audit_row(
        self, portal: Services
    ) -> None:
        district_id = onboard(portal, "springfield")
        add_schools(portal, district_id)
        report = portal.imports.import_staff(
            "springfield", "staff.csv", staff_csv(*GOOD), "staff:42"
        )
        assert (report.status, report.rows, report.created) == ("imported", 3, 3)
        with portal.engine.connect() as conn:
            rows = conn.execute(select(tables.educators).order_by(tables.educators.c.email)).all()
            audit = conn.execute(select(tables.audit_log)).all()
        assert [(r.email, r.role) for r in rows] == [
            ("eulalie@springfield.example", "paraprofessional"),
            ("harold@springfield.example", "coach"),
            ("marian@springfield.example", "librarian"),
        ]
        assert all(r.manually_rostered and r.sourced_id is None and r.active for r in rows)
        assert {r.school_sourced_ids[0] for r in rows} == {"org-101", "org-102"}
        assert sorted(a.entity_id for a in audit) == sorted(r.id for r in rows)
        assert {(a.actor, a.action, a.entity_type, a.run_id) for a in audit} == {
            ("staff:42", "create", "educator", None)
        }
        # The audit row says how the account came to be, never who it is.
        assert all("marian" not in str(a.changes).lower() for a in audit)

    def test_an_xlsx_made_in_excel_imports(self, portal: Services) -> None:
        district_id = onboard(portal, "springfield")
        add_schools(portal, district_id)
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Staff"
        for line in (HEADER, *GOOD):
            sheet.append(line.split(","))
        out = io.BytesIO()
        book.save(out)
        report = portal.imports.import_staff(
            "springfield", "staff.xlsx", out.getvalue(), "staff:42"
        )
        assert report.created == 3
        assert count(portal, tables.educators, district_id) == 3


class TestAllOrNothing:
    """If any row has an error nothing is written, and every row error is listed."""

    def test_one_bad_row_writes_nothing_and_all_errors_are_listed(self, portal: Services) -> None:
        district_id = onboard(portal, "springfield")
        add_schools(portal, district_id)
        data = staff_csv(
            *GOOD,
            "Winthrop,Paroo,not-an-email,aide,0101,",
            "Amaryllis,,marian@springfield.example,aide,9999,",
        )
        report = portal.imports.import_staff("springfield", "staff.csv", data, "staff:42")
        assert report.status == "rejected" and report.created == 0
        assert [(e.row, e.column) for e in report.errors] == [
            (5, "email"),
            (6, "last_name"),
            (6, "email"),
            (6, "school_identifier_or_sourced_id"),
        ]
        assert count(portal, tables.educators, district_id) == 0
        assert count(portal, tables.audit_log, district_id) == 0

    def test_emails_already_used_in_the_district_are_row_errors(self, portal: Services) -> None:
        district_id = onboard(portal, "springfield")
        add_schools(portal, district_id)
        portal.imports.import_staff("springfield", "first.csv", staff_csv(GOOD[0]), "staff:42")
        again = staff_csv(GOOD[1], GOOD[0].replace("marian@", "MARIAN@"))
        report = portal.imports.import_staff("springfield", "second.csv", again, "staff:42")
        assert [(e.row, e.column) for e in report.errors] == [(3, "email")]
        assert count(portal, tables.educators, district_id) == 1

    def test_a_dry_run_checks_everything_and_writes_nothing(self, portal: Services) -> None:
        district_id = onboard(portal, "springfield")
        add_schools(portal, district_id)
        report = portal.imports.import_staff(
            "springfield", "staff.csv", staff_csv(*GOOD), "staff:42", dry_run=True
        )
        assert (report.status, report.valid, report.created) == ("dry_run", 3, 0)
        assert count(portal, tables.educators, district_id) == 0

    def test_a_structural_error_refuses_the_file_before_reading_the_district(
        self, portal: Services
    ) -> None:
        district_id = onboard(portal, "springfield")
        with pytest.raises(
            SpreadsheetRejected, match="no email, role, school_identifier_or_sourced_id columns"
        ):
            portal.imports.import_staff(
                "springfield", "s.csv", b"first_name,last_name\r\nA,B\r\n", "x"
            )
        assert count(portal, tables.educators, district_id) == 0


class TestHandMadeAccounts:
    """Adding by hand is refused for a rostered district, and works for one that is not."""

    def test_a_rostered_district_refuses_and_says_what_to_do_instead(
        self, portal: Services
    ) -> None:
        district_id = onboard(portal, "springfield")
        with pytest.raises(ManualRosteringDisabled) as caught:
            portal.imports.add_educator(
                "springfield",
                given_name="Grace",
                family_name="Hopper",
                email="grace@springfield.example",
                role="teacher",
                actor="staff:42",
            )
        message = str(caught.value)
        assert message.startswith("Springfield USD is rostered from ClassLink")
        assert "add the teacher in your SIS/ClassLink" in message
        assert "roster import spreadsheet" in message
        with pytest.raises(ManualRosteringDisabled, match="add the student"):
            portal.imports.add_student(
                "springfield", given_name="A", family_name="B", student_id="1", actor="x"
            )
        assert count(portal, tables.educators, district_id) == 0
        assert count(portal, tables.students, district_id) == 0

    def test_a_district_that_is_not_rostered_takes_educators_and_students_by_hand(
        self, portal: Services
    ) -> None:
        district_id = onboard(portal, "shelbyville", rostered=False)
        educator = portal.imports.add_educator(
            "shelbyville",
            given_name="Grace",
            family_name="Hopper",
            email="grace@shelbyville.example",
            role="teacher",
            actor="staff:42",
        )
        student = portal.imports.add_student(
            "shelbyville",
            given_name="Ada",
            family_name="Reader",
            student_id="S001",
            grade="05",
            actor="staff:42",
        )
        with portal.engine.connect() as conn:
            made = conn.execute(select(tables.students)).one()
            audit = conn.execute(select(tables.audit_log.c.entity_id)).scalars().all()
        assert (made.id, made.student_id, made.grade, made.manually_rostered) == (
            student,
            "S001",
            "05",
            True,
        )
        assert sorted(audit) == sorted([educator, student])
        assert count(portal, tables.educators, district_id) == 1

    def test_invalid_details_are_refused_with_every_problem(self, portal: Services) -> None:
        onboard(portal, "shelbyville", rostered=False)
        portal.imports.add_student(
            "shelbyville", given_name="Ada", family_name="R", student_id="S001", actor="x"
        )
        with pytest.raises(AccountRejected) as caught:
            portal.imports.add_student(
                "shelbyville",
                given_name="",
                family_name="R",
                student_id="S001",
                grade="5",
                actor="x",
            )
        assert len(caught.value.problems) == 3


class TestSyncLeavesImportedAccountsAlone:
    """A sync never deactivates an imported account: it has no sourcedId for a sync to miss."""

    def test_a_full_sync_after_an_import_keeps_the_imported_staff_active(
        self, portal: Services
    ) -> None:
        data = generate_district(students=80, seed=5)
        tenant = Tenant(name="springfield", data=copy.deepcopy(data), key=KEY, secret=SECRET)
        with SimulatorServer([tenant]) as server:
            district_id = onboard(portal, "springfield", url=server.base_url("springfield"))
            assert portal.runs.sync("springfield").status == "succeeded"
            report = portal.imports.import_staff(
                "springfield", "staff.csv", staff_csv(*GOOD), "staff:42"
            )
            assert report.created == 3
            # Twice: the second sync sees a complete snapshot in which the staff are absent.
            for _ in range(2):
                assert portal.runs.sync("springfield").status == "succeeded"
        with portal.engine.connect() as conn:
            imported = (
                conn.execute(
                    select(tables.educators.c.active).where(tables.educators.c.manually_rostered)
                )
                .scalars()
                .all()
            )
        assert imported == [True, True, True]
        assert count(portal, tables.educators, district_id) == data.counts()["educators"] + 3


class TestClassLinkSendsAnImportedPerson:
    """When ClassLink later sends an imported person, the sync matches the account.

    Matching itself is domain/match.py (the workflow feature); this proves the imported account is
    one it can claim: linked by email, not duplicated, the same portal id kept.
    """

    def test_an_imported_aide_is_matched_by_email_not_duplicated(self, portal: Services) -> None:
        data = generate_district(students=80, seed=5)
        aide = next(u for u in data.users if u["role"] == "aide")
        tenant = Tenant(name="springfield", data=copy.deepcopy(data), key=KEY, secret=SECRET)
        with SimulatorServer([tenant]) as server:
            district_id = onboard(portal, "springfield", url=server.base_url("springfield"))
            # Before the first sync the district has no schools, so the school may be blank.
            line = f"{aide['givenName']},{aide['familyName']},{aide['email'].upper()},aide,,"
            report = portal.imports.import_staff(
                "springfield", "staff.csv", staff_csv(line), "staff:42"
            )
            (imported_id,) = report.account_ids
            assert portal.runs.sync("springfield").status == "succeeded"
        with portal.engine.connect() as conn:
            linked = conn.execute(
                select(tables.educators.c.id).where(
                    tables.educators.c.sourced_id == aide["sourcedId"]
                )
            ).scalar_one()
        assert linked == imported_id
        assert count(portal, tables.educators, district_id) == data.counts()["educators"]
