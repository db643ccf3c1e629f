"""On SQLite, searching by a ClassLink id, a student ID or an email, and reading a person's page,
find their rows through the indexes, never by walking a district of 10,000 students.

As in test_sqlite_query_plans.py: SQLite is asked how it ran each statement sent
(`EXPLAIN QUERY PLAN`, with its own parameters). A name search does read the district's people
(a `LIKE '%…%'` no B-tree answers); an exact key must not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from tests.integration.conftest import DISTRICT_ANSWERS
from tests.integration.store.test_sqlite_query_plans import district_walks, sending
from tests.integration.store.test_statement_count import apply_first_plan, district_roster

from rostersync.domain.questionnaire import Questionnaire
from rostersync.store import record_pages, records
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.districts import DistrictRecord, create_district
from rostersync.store.secrets import SecretBox
from rostersync.store.tables import students


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    directory: Path = tmp_path_factory.mktemp("record-plans")
    eng = create_engine_for(f"sqlite:///{directory}/portal.db")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def district(engine: Engine) -> DistrictRecord:
    """10,000 students, 300 classes and 60,000 enrollments, as a first sync left them."""
    box = SecretBox([Fernet.generate_key().decode()])
    with engine.begin() as conn:
        made = create_district(conn, box, Questionnaire(**DISTRICT_ANSWERS))
        apply_first_plan(conn, made, district_roster())
    return made


@pytest.fixture
def conn(engine: Engine, district: DistrictRecord) -> Iterator[Connection]:
    with engine.connect() as connection:
        yield connection


def a_student(conn: Connection) -> tuple[str, str, str]:
    row = conn.execute(
        select(students.c.sourced_id, students.c.student_id, students.c.email)
        .where(students.c.student_id != "", students.c.email != "")
        .order_by(students.c.sourced_id.desc())
        .limit(1)
    ).one()
    return str(row.sourced_id), str(row.student_id), str(row.email)


@pytest.mark.parametrize("key", [0, 1, 2], ids=["sourced_id", "student_id", "email"])
def test_an_exact_key_finds_the_person_through_an_index(
    conn: Connection, district: DistrictRecord, key: int
) -> None:
    student = a_student(conn)
    text = student[key].upper() if key == 2 else student[key]
    with sending(conn) as sent:
        found = records.search(conn, district.id, text)
    assert [p.sourced_id for p in found.people.rows] == [student[0]]
    assert found.people.total == 1
    assert district_walks(conn, sent, "FROM students") == []


def test_a_persons_page_reads_no_district_walk(conn: Connection, district: DistrictRecord) -> None:
    sourced_id = a_student(conn)[0]
    with sending(conn) as sent:
        page = record_pages.person_page(conn, district.id, sourced_id)
    assert page is not None and page.enrollments and page.eligibility is not None
    for table in ("FROM students", "FROM enrollments", "FROM audit_log", "FROM eligibility"):
        assert district_walks(conn, sent, table) == [], table


def test_a_name_search_reads_the_names_from_their_index_not_the_peoples_rows(
    conn: Connection, district: DistrictRecord
) -> None:
    """Every word of a name is matched in the `(district_id, name_key, id)` index (which holds
    the id the matches are read by): the district's students are walked in that index alone,
    never through their rows."""
    everyone = records.search(conn, district.id, "ada READER")
    every = conn.execute(select(func.count()).where(students.c.district_id == district.id))
    assert everyone.people.total == every.scalar_one() > 1000
    assert len(everyone.people.rows) == records.SEARCH_CAP
    assert all(p.name.startswith("Ada Reader") for p in everyone.people.rows)
    with sending(conn) as sent:
        nobody = records.search(conn, district.id, "ada Writer")
    assert nobody.people.total == 0
    driver = conn.connection.driver_connection
    assert driver is not None
    steps = [
        row[3]
        for statement, parameters in sent
        if "FROM students" in statement
        for row in driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
    ]
    walks = [s for s in steps if "students" in s and "(district_id=?)" in s]
    assert not [s for s in steps if s.startswith("SCAN students")], steps
    assert walks and all("INDEX ix_students_district_id_name_key " in s for s in walks), walks
    assert any("COVERING INDEX ix_students_district_id_name_key " in s for s in walks), walks
