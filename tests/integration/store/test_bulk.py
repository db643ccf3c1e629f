"""Rows bulk-loaded by `store.bulk.insert_rows` read back exactly as rows inserted by SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection

from rostersync.store.bulk import insert_rows
from rostersync.store.districts import DistrictRecord
from rostersync.store.runs import create_run
from rostersync.store.tables import audit_log, students

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def _audit(run_id: str, district_id: str, n: int, *, at: datetime) -> list[dict[str, object]]:
    return [
        {
            "district_id": district_id,
            "run_id": run_id,
            "actor": f"sync run {run_id}",
            "action": ("create", "update")[i % 2],
            "entity_type": "enrollment",
            "entity_id": f"e-{i:04d}",
            # JSON, none, and the same object in every row: each stored as given.
            "changes": None if i % 3 == 0 else {"fields": ["role"], "n": i, "ü": "✓"},
            "at": at if i % 2 else at + timedelta(minutes=i),
        }
        for i in range(n)
    ]


def _read(conn: Connection, run_id: str) -> list[tuple[object, ...]]:
    a = audit_log
    rows = conn.execute(
        select(a.c.actor, a.c.action, a.c.entity_id, a.c.changes, a.c.at)
        .where(a.c.run_id == run_id)
        .order_by(a.c.entity_id)
    )
    return [tuple(row) for row in rows]


def test_bulk_loaded_rows_equal_those_sqlalchemy_inserts(
    conn: Connection, district: DistrictRecord, run_id: str
) -> None:
    insert_rows(conn, audit_log, _audit(run_id, district.id, 250, at=NOW))
    loaded = _read(conn, run_id)
    # The same rows under another run, through SQLAlchemy (the audit log is append-only).
    other = create_run(conn, district_id=district.id, trigger="manual", mode="apply")
    rows = _audit(run_id, district.id, 250, at=NOW)
    conn.execute(insert(audit_log), [{**row, "run_id": other} for row in rows])
    assert loaded == _read(conn, other)
    assert len(loaded) == 250
    # Timestamps come back as the same aware instants, JSON as the same values.
    assert loaded[1][4] == NOW and loaded[2][4] == NOW + timedelta(minutes=2)
    assert loaded[0][3] is None and loaded[1][3] == {"fields": ["role"], "n": 1, "ü": "✓"}


def test_a_bulk_load_is_one_statement_its_listeners_see(
    conn: Connection, district: DistrictRecord, run_id: str
) -> None:
    seen: list[str] = []

    def record(_c: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    try:
        insert_rows(conn, audit_log, _audit(run_id, district.id, 40, at=NOW))
    finally:
        event.remove(conn, "before_cursor_execute", record)
    assert len(seen) == 1, seen
    assert seen[0].startswith(("INSERT INTO audit_log", "COPY audit_log")), seen


def test_rows_a_python_default_must_finish_go_through_sqlalchemy(
    conn: Connection, district: DistrictRecord
) -> None:
    # `name_key` is left to its INSERT default, which reads the row's names.
    row = {
        "id": "00000000-0000-4000-8000-000000000001",
        "district_id": district.id,
        "sourced_id": "stu-bulk-1",
        "username": "zm",
        "school_sourced_ids": [],
        "school_ids": [],
        "content_hash": "h",
        "given_name": "Zoë",
        "family_name": "MÜLLER",
        "created_at": NOW,
        "updated_at": NOW,
    }
    insert_rows(conn, students, [row])
    key = conn.execute(select(students.c.name_key).where(students.c.id == row["id"])).scalar()
    assert key and "müller" in key


def test_nothing_to_load_sends_nothing(conn: Connection) -> None:
    seen: list[str] = []
    event.listen(conn, "before_cursor_execute", lambda *a: seen.append(a[2]))
    insert_rows(conn, audit_log, [])
    assert seen == []
