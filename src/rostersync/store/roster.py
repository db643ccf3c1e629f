"""Reading the roster the portal holds: the planning index, eligibility, and pages of people.

The planning read `load_indexes` is one streamed SELECT for every kind, whatever the district's
size: a server-side cursor on PostgreSQL, SQLite's own lazy cursor on SQLite. The lookups
(`lookup_index`, `lookup_eligibility`) read only the ids they are given, a chunk at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from rostersync.domain.eligibility import Eligibility, EligibilityStatus
from rostersync.domain.eligibility import eligibility as eligibility_of
from rostersync.domain.records import EntityKind, StoredIndex, StoredRecord
from rostersync.store.planner import unindexed
from rostersync.store.tables import ROSTER_TABLES, educators, eligibility, students

STREAM_ROWS = 5000
# sourcedIds per `IN (…)` lookup: under SQLite's 32,766 bound parameters, and few round trips.
LOOKUP_CHUNK = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class StudentRow:
    """A student account as the portal lists it."""

    id: str
    sourced_id: str | None
    student_id: str
    grade: str
    username: str
    given_name: str
    family_name: str
    email: str
    school_id: str | None
    active: bool
    manually_rostered: bool
    eligibility: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EducatorRow:
    """An educator account as the portal lists it, with the OneRoster role kept."""

    id: str
    sourced_id: str | None
    role: str
    username: str
    given_name: str
    family_name: str
    email: str
    school_id: str | None
    active: bool
    manually_rostered: bool
    updated_at: datetime


def load_index(conn: Connection, district_id: str, kind: EntityKind) -> StoredIndex:
    """What the portal holds for one kind, keyed by sourcedId: just enough to plan a sync.

    Accounts without a sourcedId (made by hand) cannot match a source record and are left out.

    Args:
        conn: A connection (PostgreSQL streams with a server-side cursor inside its transaction).
        district_id: The district.
        kind: Which kind of record.

    Returns:
        sourcedId → StoredRecord, active and inactive alike.
    """
    return load_indexes(conn, district_id, [kind])[kind]


def load_indexes(
    conn: Connection, district_id: str, kinds: Sequence[EntityKind]
) -> dict[EntityKind, StoredIndex]:
    """`load_index` of several kinds in one streamed SELECT (a UNION ALL of their tables).

    A no-op sync of a small district is mostly fixed costs: a server-side cursor is a DECLARE,
    a FETCH per `STREAM_ROWS` and a CLOSE, each a round trip (that waits its turn for the
    interpreter while the run's enrollments are pulled beside it), so one cursor for every kind
    instead of one each saves the round trips, and stays one streamed read at any size.
    """
    indexes = {kind: StoredIndex() for kind in kinds}
    if not kinds:
        return indexes
    stmt = union_all(*(_index_rows(district_id, kind, tag) for tag, kind in enumerate(kinds)))
    adds = [indexes[kind].add for kind in kinds]
    # Millions of rows in a big district: unpacked positionally, each packed as it comes.
    # A hand-made account matched later has no hash yet: "" differs from any source record's.
    rows = conn.execute(stmt.execution_options(yield_per=STREAM_ROWS))
    for tag, id_, sourced_id, content_hash, active, manual in rows:
        adds[tag](id_, sourced_id, content_hash or "", bool(active), bool(manual))
    return indexes


def _index_rows(district_id: str, kind: EntityKind, tag: int) -> Select[Any]:
    """One kind's planning rows, tagged with `tag` (its place in `load_indexes`' kinds)."""
    table = ROSTER_TABLES[kind]
    manual = (
        table.c.manually_rostered
        if "manually_rostered" in table.c
        else literal(False).label("manually_rostered")
    )
    return select(
        literal(tag).label("tag"),
        table.c.id,
        table.c.sourced_id,
        table.c.content_hash,
        table.c.active,
        manual,
    ).where(table.c.district_id == district_id, table.c.sourced_id.is_not(None))


def list_students(
    conn: Connection, district_id: str, *, limit: int, offset: int = 0
) -> list[StudentRow]:
    """A page of a district's students, by family then given name, with their eligibility."""
    t = students
    stmt = (
        select(
            t.c.id,
            t.c.sourced_id,
            t.c.student_id,
            t.c.grade,
            t.c.username,
            t.c.given_name,
            t.c.family_name,
            t.c.email,
            t.c.school_id,
            t.c.active,
            t.c.manually_rostered,
            eligibility.c.status.label("eligibility"),
            t.c.updated_at,
        )
        .select_from(t.outerjoin(eligibility, eligibility.c.student_id == t.c.id))
        .where(t.c.district_id == district_id)
        .order_by(t.c.family_name, t.c.given_name, t.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [StudentRow(**row._mapping) for row in conn.execute(stmt)]


def list_educators(
    conn: Connection, district_id: str, *, limit: int, offset: int = 0
) -> list[EducatorRow]:
    """A page of a district's educators, by family then given name."""
    t = educators
    stmt = (
        select(
            t.c.id,
            t.c.sourced_id,
            t.c.role,
            t.c.username,
            t.c.given_name,
            t.c.family_name,
            t.c.email,
            t.c.school_id,
            t.c.active,
            t.c.manually_rostered,
            t.c.updated_at,
        )
        .where(t.c.district_id == district_id)
        .order_by(t.c.family_name, t.c.given_name, t.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [EducatorRow(**row._mapping) for row in conn.execute(stmt)]


def count_entities(conn: Connection, district_id: str) -> dict[str, dict[str, int]]:
    """How many records of each kind a district has, active and inactive.

    Returns:
        Table name ("orgs", "students", …) → {"active": n, "inactive": n}.
    """
    counts: dict[str, dict[str, int]] = {}
    for table in ROSTER_TABLES.values():
        counts[table.name] = _count(conn, table, district_id)
    return counts


def _count(conn: Connection, table: Table, district_id: str) -> dict[str, int]:
    result = {"active": 0, "inactive": 0}
    stmt = (
        select(table.c.active, func.count())
        .where(table.c.district_id == district_id)
        .group_by(table.c.active)
    )
    for active, n in conn.execute(stmt):
        result["active" if active else "inactive"] += n
    return result


def count_stored(conn: Connection, district_id: str, kind: EntityKind) -> tuple[int, int]:
    """(rows with a sourcedId, of which active) the portal holds for one kind of a district."""
    table = ROSTER_TABLES[kind]
    row = conn.execute(
        select(func.count(), func.count().filter(table.c.active.is_(True))).where(
            table.c.district_id == district_id, table.c.sourced_id.is_not(None)
        )
    ).one()
    return int(row[0]), int(row[1] or 0)


def lookup_index(
    conn: Connection, district_id: str, kind: EntityKind, sourced_ids: Sequence[str]
) -> dict[str, StoredRecord]:
    """`load_index` for just the given sourcedIds: one query per LOOKUP_CHUNK of them.

    For a kind planned while streaming (enrollments), so the whole index never has to be held.
    """
    table = ROSTER_TABLES[kind]
    stmt, bind = _by_ids(
        conn,
        select(table.c.id, table.c.sourced_id, table.c.content_hash, table.c.active).where(
            table.c.district_id == district_id
        ),
        table.c.sourced_id,
    )
    found: dict[str, StoredRecord] = {}
    for start in range(0, len(sourced_ids), LOOKUP_CHUNK):
        rows = conn.execute(stmt, bind(sourced_ids[start : start + LOOKUP_CHUNK]))
        # Fetched whole (a chunk is small): row by row through the result costs twice as much.
        for id_, sourced_id, content_hash, active in rows.all():
            found[sourced_id] = StoredRecord(
                id_, sourced_id, content_hash or "", bool(active), False
            )
    return found


def lookup_eligibility(
    conn: Connection, district_id: str, student_ids: Sequence[str]
) -> dict[str, Eligibility]:
    """The current eligibility of the given portal student ids that have one (one query per
    LOOKUP_CHUNK), so a resync of a big district never holds every student's eligibility at once."""
    stmt, bind = _by_ids(
        conn,
        # Each student's row found by its key; the district only checked (see `store.planner`).
        select(eligibility.c.student_id, eligibility.c.status, eligibility.c.category).where(
            unindexed(eligibility.c.district_id) == district_id
        ),
        eligibility.c.student_id,
    )
    found: dict[str, Eligibility] = {}
    for start in range(0, len(student_ids), LOOKUP_CHUNK):
        for student_id, status, category in conn.execute(
            stmt, bind(student_ids[start : start + LOOKUP_CHUNK])
        ).all():
            found[student_id] = eligibility_of(EligibilityStatus(status), category)
    return found


def _by_ids(
    conn: Connection, stmt: Select[Any], column: ColumnElement[str]
) -> tuple[Select[Any], Callable[[Sequence[str]], dict[str, Any]]]:
    """`stmt` narrowed to rows whose `column` is among a list of ids bound as one parameter,
    and how to bind a list. Thousands of ids as an `IN (…)` of bound values cost more to render
    and bind than the lookup itself."""
    if conn.dialect.name == "postgresql":
        # Joined to the array's elements: PostgreSQL then walks the unique index once per id
        # whatever its statistics say. (Right after a big first sync, before ANALYZE, a long
        # `IN (…)` list is estimated to match the whole table and read it all, every chunk.)
        wanted = (
            func.unnest(bindparam("ids", type_=ARRAY(String))).table_valued("id").render_derived()
        )
        return stmt.join(wanted, column == wanted.c.id), lambda ids: {"ids": list(ids)}
    # SQLite: the ids as one JSON array, read back by `json_each`, searched through the index.
    listed: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", type_=String))
    )
    return stmt.where(column.in_(listed)), lambda ids: {"ids": json.dumps(list(ids))}


def stream_active(
    conn: Connection, district_id: str, kind: EntityKind
) -> Iterator[list[tuple[str, str]]]:
    """(portal id, sourcedId) of every active record of a kind, STREAM_ROWS at a time."""
    table = ROSTER_TABLES[kind]
    stmt = select_active(table, district_id, table.c.id, table.c.sourced_id)
    for partition in conn.execute(stmt).partitions():
        yield [(id_, sourced_id) for id_, sourced_id in partition]


def stream_active_hashes(
    conn: Connection, district_id: str, kind: EntityKind
) -> Iterator[list[str]]:
    """The content hash of every active record of a kind, STREAM_ROWS at a time (no ids: a
    resync checks its pull against these before looking any record up)."""
    table = ROSTER_TABLES[kind]
    stmt = select_active(table, district_id, table.c.content_hash).where(
        table.c.content_hash.is_not(None)
    )
    for partition in conn.execute(stmt).partitions():
        yield [content_hash for (content_hash,) in partition]


def select_active(table: Table, district_id: str, *columns: ColumnElement[Any]) -> Select[Any]:
    """`columns` of every active record with a sourcedId in one of a district's roster tables,
    streamed STREAM_ROWS at a time."""
    return (
        select(*columns)
        .where(
            table.c.district_id == district_id,
            table.c.active.is_(True),
            table.c.sourced_id.is_not(None),
        )
        .execution_options(yield_per=STREAM_ROWS)
    )
