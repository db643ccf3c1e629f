"""A no-op sync sends a bounded number of statements, whatever the district's size.

Two districts, one ten times the other, are synced once, then again with nothing changed at the
source. The second sync's statements are counted at the cursor (an executemany counts once), as
`tests/integration/store/test_statement_count.py` does: the run's own and its progress
recorder's, on SQLite and on PostgreSQL. Its progress writes are one upsert each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from tests.integration.sync.test_pipeline import onboard

from rostersync.services import Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district

SMALL, LARGE = 40, 400
# Measured: 29 on PostgreSQL, 38 to 40 on SQLite (it also sends BEGIN and PRAGMA busy_timeout),
# for either size; the progress thread may add a write if a pull outlasts its interval.
MAX_STATEMENTS = 60


@contextmanager
def counting(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """Collects every statement sent on `engine`'s connections, each with whether it was sent
    outside a transaction (it commits by itself)."""
    sent: list[tuple[str, bool]] = []

    def record(conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        # psycopg's own flag (SQLite's driver is always left in autocommit mode, as the engine
        # sends BEGIN itself: counted only on PostgreSQL).
        autocommit = bool(getattr(conn.connection.dbapi_connection, "autocommit", False))
        sent.append((" ".join(statement.split()), autocommit))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    tenants = [
        Tenant(f"d{students}", generate_district(students=students, seed=5), f"k{students}", "s")
        for students in (SMALL, LARGE)
    ]
    with SimulatorServer(tenants) as srv:
        yield srv


def noop_statements(
    portal: Services, server: SimulatorServer, students: int
) -> list[tuple[str, bool]]:
    """Onboard and sync the district of `students`, then sync it again; that sync's statements,
    each with whether it committed by itself."""
    slug = f"d{students}"
    onboard(portal, server.base_url(slug), slug=slug, key=f"k{students}", secret="s")
    assert portal.runs.sync(slug).status == "succeeded"
    with counting(portal.engine) as sent:
        report = portal.runs.sync(slug)
    assert report.status == "succeeded" and report.change_count == 0
    return sent


def test_a_noop_sync_sends_as_many_statements_for_ten_times_the_students(
    portal: Services, server: SimulatorServer
) -> None:
    small = noop_statements(portal, server, SMALL)
    large = noop_statements(portal, server, LARGE)
    assert len(small) <= MAX_STATEMENTS and len(large) <= MAX_STATEMENTS

    def run_own(sent: list[tuple[str, bool]]) -> list[str]:
        return [statement for statement, _ in sent if "run_progress" not in statement]

    assert abs(len(run_own(large)) - len(run_own(small))) <= 2
    # The planning index of every kind but enrollments is one streamed read, not one per kind.
    index_reads = [s for s in run_own(large) if "content_hash" in s and "UNION ALL" in s]
    assert len(index_reads) == 1
    assert "FROM students" in index_reads[0] and "FROM orgs" in index_reads[0]


def test_each_progress_write_of_a_noop_sync_is_one_upsert(
    portal: Services, server: SimulatorServer
) -> None:
    sent = noop_statements(portal, server, SMALL)
    progress = [(s, alone) for s, alone in sent if "run_progress" in s]
    # Validating, planning and done at least, each one statement that inserts or replaces.
    assert len(progress) >= 3
    assert all(s.startswith("INSERT INTO run_progress") and "ON CONFLICT" in s for s, _ in progress)
    if portal.engine.dialect.name == "postgresql":
        # No BEGIN and COMMIT round trips around it: it commits by itself.
        assert all(alone for _, alone in progress)
