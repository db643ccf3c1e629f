"""One address whatever its case, in the database too: the staff import's "already in use" check
finds `josé.núñez@…` under `JOSÉ.NÚÑEZ@…` on SQLite (whose `lower` folds only ASCII) and
PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Connection

from rostersync.domain.emails import normal_email
from rostersync.domain.staff_import import NewEducator
from rostersync.store import accounts
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
