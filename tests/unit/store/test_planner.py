"""`unindexed`: the district check SQLite must not search by, and the plain column elsewhere."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from rostersync.store.planner import unindexed
from rostersync.store.tables import students


def test_sqlite_gets_the_column_behind_a_unary_plus() -> None:
    stmt = select(students.c.id).where(unindexed(students.c.district_id) == "d-1")
    sql = str(stmt.compile(dialect=sqlite.dialect()))
    assert "WHERE +students.district_id = ?" in sql


def test_postgresql_gets_the_column_as_it_is() -> None:
    stmt = select(students.c.id).where(unindexed(students.c.district_id) == "d-1")
    sql = str(stmt.compile(dialect=postgresql.dialect()))
    assert "WHERE students.district_id = %(param_1)s" in sql
    assert "+" not in sql


def test_statements_differing_only_in_values_share_a_cached_form() -> None:
    # `inherit_cache`: the construct takes part in SQLAlchemy's statement cache.
    one = select(students.c.id).where(unindexed(students.c.district_id) == "d-1")
    two = select(students.c.id).where(unindexed(students.c.district_id) == "d-2")
    key_one, key_two = one._generate_cache_key(), two._generate_cache_key()
    assert key_one is not None and key_two is not None
    assert key_one.key == key_two.key
