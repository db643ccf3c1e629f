"""The roster import upload page and its API twin: every row or none, reported row by row.

Real CSV and XLSX files are uploaded over loopback HTTP into a portal on SQLite and on
PostgreSQL; what was written is read back through the service.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, form_csrf

from rostersync.demo.sandbox import Sandbox
from rostersync.store.accounts import schools

HEADER = ["first_name", "last_name", "email", "role", "school_identifier_or_sourced_id"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Springfield and Shelbyville, synced, with a vendor and a data manager for each."""
    tmp: Path = tmp_path_factory.mktemp("imports")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        sso_timeout_seconds=2.0,
    )
    districts = sandboxes.springfield_and_shelbyville(10)
    with Sandbox(settings, districts) as sandbox:
        service = sandbox.service
        assert service is not None
        for email, role, district in (
            ("vendor@portal.example", "vendor_staff", None),
            ("dm@springfield.example", "data_manager", "springfield"),
            ("dm@shelbyville.example", "data_manager", "shelbyville"),
        ):
            service.staff.add_staff(
                email=email, display_name="Pat Staff", role=role, password=PASSWORD,
                district=district,
            )  # fmt: skip
        yield sandbox


@contextmanager
def signed_in(world: Sandbox, email: str) -> Iterator[httpx.Client]:
    """A browser signed in as a staff member (a cookie jar that follows no redirects)."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        csrf = form_csrf(client.get("/staff/login").text)
        response = client.post(
            "/staff/login", data={"email": email, "password": PASSWORD, "csrf": csrf}
        )
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture
def vendor(world: Sandbox) -> Iterator[httpx.Client]:
    with signed_in(world, "vendor@portal.example") as client:
        yield client


def school_of(world: Sandbox, slug: str) -> str:
    """The sourcedId of one of the district's schools."""
    assert world.service is not None
    with world.service.engine.connect() as conn:
        return sorted(s[1] for s in schools(conn, world.district_ids[slug]))[0]


def staff_rows(world: Sandbox, count: int = 2) -> list[list[str]]:
    """`count` valid staff rows with emails nobody in the portal has yet."""
    school = school_of(world, "springfield")
    tag = secrets.token_hex(3)
    roles = ("librarian", "paraprofessional", "coach")
    return [
        [f"Robin{i}", f"Reader-{tag}", f"robin{i}.{tag}@springfield.example", roles[i % 3], school]
        for i in range(count)
    ]


def csv_file(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_file(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Staff"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def educator_emails(world: Sandbox) -> set[str]:
    assert world.service is not None
    people = world.service.districts.people("springfield", kind="educators", limit=10_000)
    return {p.email for p in people}


def upload_page(client: httpx.Client, name: str, data: bytes, slug: str = "springfield") -> Any:
    """Choose a file on the import page and press Import."""
    page = client.get(f"/admin/districts/{slug}/import")
    assert page.status_code == 200
    return client.post(
        f"/admin/districts/{slug}/import",
        data={"csrf": form_csrf(page.text)},
        files={"file": (name, data, "text/csv" if name.endswith(".csv") else XLSX)},
    )


def upload_api(client: httpx.Client, name: str, data: bytes, slug: str = "springfield") -> Any:
    token = client.get("/api/v1/session").json()["csrf_token"]
    return client.post(
        f"/api/v1/districts/{slug}/imports",
        headers={"X-CSRF-Token": token},
        files={"file": (name, data, "text/csv" if name.endswith(".csv") else XLSX)},
    )


class TestGoodFiles:
    """A file whose every row is valid creates every account and says so row by row."""

    def test_a_csv_uploaded_on_the_page_creates_each_row(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        rows = staff_rows(world, 3)
        response = upload_page(vendor, "staff.csv", csv_file(rows))
        assert response.status_code == 200, response.text
        assert "Imported: 3 staff accounts created from 3 rows." in response.text
        assert response.text.count('badge eligible">created<') == 3
        for row in rows:
            assert row[2] in response.text
        assert {r[2] for r in rows} <= educator_emails(world)
        assert world.service is not None
        audit = world.service.districts.audit_entries("springfield", limit=50)
        assert sum(1 for e in audit if e.actor.startswith("staff:")) >= 3

    def test_an_xlsx_uploaded_through_the_api_creates_each_row(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        rows = staff_rows(world, 2)
        response = upload_api(vendor, "staff.xlsx", xlsx_file(rows))
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["status"], body["rows"], body["created"], body["errors"]) == (
            "imported",
            2,
            2,
            0,
        )
        assert [(r["row"], r["outcome"]) for r in body["report"]] == [
            (2, "created"),
            (3, "created"),
        ]
        assert all(r["account_id"] for r in body["report"])
        assert {r[2] for r in rows} <= educator_emails(world)

    def test_both_templates_download_and_read_back(self, vendor: httpx.Client) -> None:
        page = vendor.get("/admin/districts/springfield/import").text
        assert 'href="/admin/districts/springfield/import/template.csv"' in page
        assert 'href="/admin/districts/springfield/import/template.xlsx"' in page
        as_csv = vendor.get("/admin/districts/springfield/import/template.csv")
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.content.decode("utf-8-sig").startswith(",".join(HEADER))
        as_xlsx = vendor.get("/admin/districts/springfield/import/template.xlsx")
        assert as_xlsx.status_code == 200 and as_xlsx.headers["content-type"] == XLSX
        book = load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
        assert book.sheetnames[0] == "Staff"
        assert vendor.get("/admin/districts/springfield/import/template.pdf").status_code == 404


class TestBadRows:
    """A file with a bad row writes nothing and lists each problem by row and column."""

    def test_the_page_lists_the_row_and_column_and_writes_nothing(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        rows = staff_rows(world, 3)
        rows[1][3] = "wizard"  # row 3 of the file: a role the portal does not know
        before = educator_emails(world)
        response = upload_page(vendor, "staff.csv", csv_file(rows))
        assert response.status_code == 422
        text = response.text
        assert "Nothing was imported: 1 problem in 1 of 3 rows." in text
        assert (
            '<tr class="refused"><th scope="row">3</th>' in text
            and "<code>role</code>" in text
            and "is not a role the portal knows — use one of: librarian" in text
        )
        assert text.count('badge">not imported<') == 2  # the good rows, held back too
        assert educator_emails(world) == before

    def test_the_api_reports_every_error_and_writes_nothing(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        rows = staff_rows(world, 2)
        rows[0][2] = "not-an-email"
        rows[1][4] = "no-such-school"
        before = educator_emails(world)
        response = upload_api(vendor, "staff.csv", csv_file(rows))
        assert response.status_code == 422
        body = response.json()
        assert (body["status"], body["created"], body["errors"]) == ("rejected", 0, 2)
        refused = {(r["row"], e["column"]) for r in body["report"] for e in r["errors"]}
        assert refused == {(2, "email"), (3, "school_identifier_or_sourced_id")}
        assert all(r["outcome"] == "refused" and not r["account_id"] for r in body["report"])
        assert all(e["fix"] for r in body["report"] for e in r["errors"])
        assert educator_emails(world) == before


class TestRefusedFiles:
    """A file whose structure is unusable is refused whole, with the reason and the fix."""

    def test_a_missing_column_refuses_the_file_on_the_page(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        rows = [r[:3] + r[4:] for r in staff_rows(world, 2)]  # no role column
        header = [c for c in HEADER if c != "role"]
        before = educator_emails(world)
        response = upload_page(vendor, "staff.csv", csv_file(rows, header))
        assert response.status_code == 422
        assert "The file was refused" in response.text
        assert "the header row has no role column" in response.text
        assert educator_emails(world) == before

    def test_a_missing_column_refuses_the_file_through_the_api(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        header = [c for c in HEADER if c != "email"]
        rows = [r[:2] + r[3:] for r in staff_rows(world, 1)]
        response = upload_api(vendor, "staff.csv", csv_file(rows, header))
        assert response.status_code == 422
        assert "the header row has no email column" in response.json()["detail"]

    def test_a_file_in_an_unknown_encoding_is_refused(self, vendor: httpx.Client) -> None:
        data = "first_name\n".encode("utf-16")
        response = upload_page(vendor, "staff.csv", data)
        assert response.status_code == 422 and "The file was refused" in response.text


class TestScoping:
    """Only staff who may see the district import into it, and only with the session's token."""

    def test_another_districts_data_manager_is_refused_and_nothing_is_written(
        self, world: Sandbox
    ) -> None:
        rows = staff_rows(world, 1)
        before = educator_emails(world)
        with signed_in(world, "dm@shelbyville.example") as other:
            assert other.get("/admin/districts/springfield/import").status_code == 404
            own = other.get("/admin/districts/shelbyville/import")
            forged = other.post(
                "/admin/districts/springfield/import",
                data={"csrf": form_csrf(own.text)},
                files={"file": ("staff.csv", csv_file(rows), "text/csv")},
            )
            assert forged.status_code == 404
            assert upload_api(other, "staff.csv", csv_file(rows)).status_code == 404
            template = other.get("/admin/districts/springfield/import/template.csv")
            assert template.status_code == 404
        assert educator_emails(world) == before

    def test_the_districts_own_data_manager_imports(self, world: Sandbox) -> None:
        rows = staff_rows(world, 1)
        with signed_in(world, "dm@springfield.example") as own:
            assert upload_page(own, "staff.csv", csv_file(rows)).status_code == 200
        assert rows[0][2] in educator_emails(world)

    def test_an_upload_without_the_session_token_is_refused(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        rows = staff_rows(world, 1)
        files = {"file": ("staff.csv", csv_file(rows), "text/csv")}
        page = vendor.post("/admin/districts/springfield/import", data={"csrf": "x"}, files=files)
        assert page.status_code == 403
        api = vendor.post("/api/v1/districts/springfield/imports", files=files)
        assert api.status_code == 403
        assert rows[0][2] not in educator_emails(world)

    def test_signed_out_people_are_sent_to_sign_in(self, world: Sandbox) -> None:
        with httpx.Client(base_url=world.url) as anonymous:
            page = anonymous.get("/admin/districts/springfield/import")
            assert page.status_code == 303
            assert page.headers["location"].startswith("/staff/login?next=")
