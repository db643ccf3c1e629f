"""On SQLite, a query that names rows by a key finds them through the key, not the district.

SQLite keeps no statistics here and guesses that `district_id = ?` matches a handful of rows, so
a query naming rows by `id IN (…)` (or eligibility by `student_id`) would walk every row of the
district and test it against the list: quadratic in a big district. Each test runs an operation
of the sync or the portal on a district of 10,000 students, asks SQLite how it ran each of the
statements sent (`EXPLAIN QUERY PLAN`, with their own parameters), and checks that none was
answered by walking the district's rows (see `store.planner`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine
from tests.integration.conftest import DISTRICT_ANSWERS
from tests.integration.store.test_statement_count import (
    NOW,
    STUDENTS,
    apply_first_plan,
    district_roster,
    plan_against_store,
    with_changes_and_leavers,
)

from rostersync.domain.questionnaire import Questionnaire
from rostersync.domain.records import EntityKind
from rostersync.store import educator_classes
from rostersync.store.apply import apply_plan
from rostersync.store.db import create_engine_for, migrate
from rostersync.store.districts import DistrictRecord, create_district
from rostersync.store.roster import lookup_eligibility
from rostersync.store.runs import create_run
from rostersync.store.secrets import SecretBox
from rostersync.store.tables import classes, eligibility

# A plan step that reads a district's rows through an index on district_id alone.
WALKS_DISTRICT = re.compile(r"USING (?:COVERING )?INDEX \S+ \(district_id=\?\)$")

Sent = list[tuple[str, Any]]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    directory: Path = tmp_path_factory.mktemp("plans")
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
    """A connection whose work is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        try:
            yield connection
        finally:
            outer.rollback()


@contextmanager
def sending(conn: Connection) -> Iterator[Sent]:
    """Every statement sent to the driver on `conn`, with its (first) parameters."""
    sent: Sent = []

    def record(
        _c: object, _cursor: object, statement: str, parameters: Any, _ctx: object, many: bool
    ) -> None:
        sent.append((statement, parameters[0] if many else parameters))

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(conn, "before_cursor_execute", record)


def district_walks(conn: Connection, sent: Sent, naming: str) -> list[tuple[str, list[str]]]:
    """The statements among `sent` containing `naming` that SQLite answers by walking a
    district's rows, with their plans. Asserts that some statement contains `naming`."""
    driver = conn.connection.driver_connection
    assert driver is not None
    chosen = [(s, p) for s, p in sent if naming in s]
    assert chosen, f"no statement containing {naming!r} was sent"
    walks = []
    for statement, parameters in chosen:
        plan = [row[3] for row in driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        if any(WALKS_DISTRICT.search(step) for step in plan):
            walks.append((statement, plan))
    return walks


def test_eligibility_is_looked_up_by_student_not_by_district(
    conn: Connection, district: DistrictRecord
) -> None:
    wanted = list(conn.execute(select(eligibility.c.student_id).limit(5000)).scalars())
    with sending(conn) as sent:
        found = lookup_eligibility(conn, district.id, wanted)
    assert sorted(found) == sorted(wanted)
    assert district_walks(conn, sent, "FROM eligibility") == []


def test_another_districts_eligibility_is_not_found(
    conn: Connection, district: DistrictRecord
) -> None:
    # The district is still checked, only no longer searched by.
    wanted = list(conn.execute(select(eligibility.c.student_id).limit(10)).scalars())
    assert lookup_eligibility(conn, "another-district", wanted) == {}


def test_deactivations_and_updates_find_their_rows_by_id(
    conn: Connection, district: DistrictRecord
) -> None:
    roster = with_changes_and_leavers(district_roster())
    plan = plan_against_store(conn, district.id, roster)
    assert len(plan.entities[EntityKind.STUDENT].deactivations) == 1000
    run_id = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
    with sending(conn) as sent:
        apply_plan(conn, district_id=district.id, run_id=run_id, plan=plan, actor="run", now=NOW)
    assert district_walks(conn, sent, "UPDATE students SET active") == []
    assert district_walks(conn, sent, "UPDATE enrollments SET active") == []
    assert district_walks(conn, sent, ".id IN (") == []


def test_a_class_roster_is_read_through_its_classes(
    conn: Connection, district: DistrictRecord
) -> None:
    taught = list(conn.execute(select(classes.c.id).limit(6)).scalars())
    with sending(conn) as sent:
        pupils = educator_classes.class_rosters(conn, district.id, taught)
    # Each class of the test district has STUDENTS * 6 / 300 pupils.
    assert len(pupils) == 6 * STUDENTS * 6 // 300
    assert district_walks(conn, sent, "FROM enrollments") == []
