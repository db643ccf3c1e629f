"""One address whatever its case, in the database too: the staff import's "already in use" check
and a data manager's sign-in by email find `josé.núñez@…` under `JOSÉ.NÚÑEZ@…` on SQLite (whose
`lower` folds only ASCII) and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Connection
from tests.integration.conftest import DistrictMaker

from rostersync.domain.emails import normal_email
from rostersync.domain.staff_import import NewEducator
from rostersync.store import accounts, signin
from rostersync.store.districts import DistrictRecord

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
STORED = ("JOSÉ.NÚÑEZ@Escuela.Example", "Maria.Lopez@Students.Example", "ÅSA_100%@Skola.Example")


@pytest.fixture
def stored(conn: Connection, district: DistrictRecord) -> None:
    made = [
        NewEducator(
            row=n,
            given_name="Ana",
            family_name=f"Staff{n}",
            email=email,
            role="librarian",
            school=None,
        )
        for n, email in enumerate(STORED, start=2)
    ]
    accounts.insert_educators(
        conn, district_id=district.id, accounts=made, actor="staff:1", via="spreadsheet", now=NOW
    )


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize(
    "email", [*STORED, *(e.lower() for e in STORED), " josé.NÚÑEZ@escuela.example"]
)
def test_an_email_in_use_is_found_whatever_its_case(
    conn: Connection, district: DistrictRecord, email: str
) -> None:
    wanted = normal_email(email)
    assert accounts.emails_in_use(conn, district.id, [wanted]) == {wanted}


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize(
    "email",
    [
        "jose.nunez@escuela.example",
        "josé.núñe@escuela.example",
        "åsa_1000@skola.example",
        "åsax100%@skola.example",
    ],
)
def test_a_similar_email_is_not_taken_for_one_in_use(
    conn: Connection, district: DistrictRecord, email: str
) -> None:
    assert accounts.emails_in_use(conn, district.id, [email]) == set()


def educator(conn: Connection, district: DistrictRecord, email: str, n: int) -> str:
    made = NewEducator(
        row=n,
        given_name="José",
        family_name=f"Núñez{n}",
        email=email,
        role="librarian",
        school=None,
    )
    (portal_id,) = accounts.insert_educators(
        conn, district_id=district.id, accounts=[made], actor="staff:1", via="by hand", now=NOW
    )
    return portal_id


def test_a_data_manager_by_email_is_found_whatever_its_case(
    conn: Connection, make_district: DistrictMaker
) -> None:
    district = make_district(data_manager_emails=["josé.núñez@escuela.example"])
    only = educator(conn, district, "JOSÉ.NÚÑEZ@Escuela.Example", 2)
    rights = signin.data_manager_for_educator(conn, district_id=district.id, educator_id=only)
    assert rights == (None, "josé.núñez@escuela.example")


def test_an_email_two_educators_share_in_different_cases_proves_nobody(
    conn: Connection, make_district: DistrictMaker
) -> None:
    district = make_district(data_manager_emails=["josé.núñez@escuela.example"])
    first = educator(conn, district, "JOSÉ.NÚÑEZ@Escuela.Example", 2)
    educator(conn, district, "josé.núñez@escuela.example", 3)
    rights = signin.data_manager_for_educator(conn, district_id=district.id, educator_id=first)
    assert rights == (None, None)
