"""A district's data found and removed as a whole: one student's export, the contract-end purge.

Which tables hold a district's rows is read off the schema itself, not listed by hand, so a
feature that adds a table is covered the day it lands: a table is district-scoped when it has a
`district_id` column, or a foreign key to a table that is. People are reached the same way: a
table refers to a student through a foreign key to `students.id`, or through a
(`person_kind`, `person_id`) pair.

Every function takes a `Connection` whose transaction the caller owns; nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, false, insert, or_, select
from sqlalchemy.engine import Connection

from rostersync.errors import NotFoundError
from rostersync.store import schema
from rostersync.store.privacy_tables import audit_purge_permits, disposals
from rostersync.store.tables import audit_log, districts, students, validation_issues

Scope = Callable[[str], ColumnElement[bool]]

# Kept after a purge, or not district data at all.
_NOT_DISTRICT_DATA = frozenset({districts.name, disposals.name, audit_purge_permits.name})
# Never part of an export: they are secrets or keys to one, not the student's data.
_SECRET_MARKERS = ("_hash", "ciphertext", "csrf", "verifier", "nonce")


@dataclass(frozen=True, slots=True, kw_only=True)
class Disposal:
    """What a purge removed, kept as the district's disposal record."""

    id: str
    district_id: str
    district_slug: str
    actor: str
    reason: str
    at: datetime
    rows: dict[str, int]
    files: dict[str, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def district_scopes() -> dict[str, tuple[Table, Scope]]:
    """Every district-scoped table with a condition selecting one district's rows, by name.

    In the schema's dependency order (parents first), so deleting in reverse never breaks a
    foreign key.
    """
    scopes: dict[str, tuple[Table, Scope]] = {}
    for table in schema.metadata.sorted_tables:
        if table.name in _NOT_DISTRICT_DATA:
            continue
        if "district_id" in table.c:
            scopes[table.name] = (table, _direct(table))
            continue
        parents = [
            (fk.parent, fk.column, scopes[fk.column.table.name][1])
            for fk in table.foreign_keys
            if fk.column.table.name in scopes
        ]
        if parents:
            scopes[table.name] = (table, _through(parents))
    return scopes


def _direct(table: Table) -> Scope:
    return lambda district_id: table.c.district_id == district_id


def _through(parents: list[tuple[Any, Any, Scope]]) -> Scope:
    def scope(district_id: str) -> ColumnElement[bool]:
        return or_(
            false(),
            *(
                column.in_(select(referred).where(parent_scope(district_id)))
                for column, referred, parent_scope in parents
            ),
        )

    return scope


def purge_district(
    conn: Connection,
    *,
    district_id: str,
    actor: str,
    reason: str,
    now: datetime,
    files: Mapping[str, int] | None = None,
) -> Disposal:
    """Delete every row of the district in every table, the district itself last, and record it.

    The audit log's append-only triggers let its rows go only while the district holds a purge
    permit, which exists only inside this transaction.

    Args:
        conn: A connection; the caller commits (all or nothing).
        district_id: The district to remove.
        actor: Who asked (kept in the disposal record).
        reason: Why, e.g. the contract-end notice or the district's written request.
        now: When.
        files: Files removed alongside, counted per kind (the caller deletes them after commit).

    Raises:
        NotFoundError: No such district.
    """
    slug = conn.execute(select(districts.c.slug).where(districts.c.id == district_id)).scalar()
    if slug is None:
        raise NotFoundError(f"no district with id {district_id!r}; it may have been purged already")
    conn.execute(insert(audit_purge_permits).values(district_id=district_id))
    rows: dict[str, int] = {}
    for name, (table, scope) in reversed(district_scopes().items()):
        removed = conn.execute(delete(table).where(scope(district_id))).rowcount
        if removed:
            rows[name] = removed
    conn.execute(
        delete(audit_purge_permits).where(audit_purge_permits.c.district_id == district_id)
    )
    conn.execute(delete(districts).where(districts.c.id == district_id))
    rows[districts.name] = 1
    disposal = Disposal(
        id=str(uuid.uuid4()),
        district_id=district_id,
        district_slug=str(slug),
        actor=actor,
        reason=reason,
        at=now,
        rows=rows,
        files=dict(files or {}),
    )
    conn.execute(
        insert(disposals).values(
            id=disposal.id,
            purged_district_id=district_id,
            district_slug=disposal.district_slug,
            actor=actor,
            reason=reason,
            at=now,
            rows=rows,
            files=disposal.files,
        )
    )
    return disposal


def list_disposals(conn: Connection) -> list[Disposal]:
    """Every purge ever made, newest first."""
    found = conn.execute(select(disposals).order_by(disposals.c.at.desc())).all()
    return [
        Disposal(
            id=row.id,
            district_id=row.purged_district_id,
            district_slug=row.district_slug,
            actor=row.actor,
            reason=row.reason,
            at=row.at,
            rows=row.rows,
            files=row.files,
        )
        for row in found
    ]


def export_student(conn: Connection, *, district_id: str, student: str) -> dict[str, Any]:
    """Everything the portal holds about one student of one district, as JSON-ready rows.

    Args:
        conn: A connection.
        district_id: The student's district; a student of another district is not found.
        student: The portal id or the roster sourcedId.

    Returns:
        {"student_id": ..., "tables": {table name: [rows]}}: the student's own row, every row of
        every table that refers to the student, the audit rows about the student and the
        validation issues raised on the student's record. Secrets (token hashes, ciphertexts)
        are left out.

    Raises:
        NotFoundError: No such student in the district.
    """
    row = conn.execute(
        select(students).where(
            students.c.district_id == district_id,
            or_(students.c.id == student, students.c.sourced_id == student),
        )
    ).first()
    if row is None:
        raise NotFoundError(
            f"no student {student!r} in this district; give the portal id or the ClassLink "
            "sourcedId shown on the student's record"
        )
    pk, sourced_id = row.id, row.sourced_id
    found: dict[str, list[dict[str, Any]]] = {students.name: [_plain(row._mapping)]}
    for table, condition in _student_references(pk):
        rows = conn.execute(select(table).where(condition)).all()
        found[table.name] = [_plain(r._mapping) for r in rows]
    found[audit_log.name] = [
        _plain(r._mapping)
        for r in conn.execute(
            select(audit_log)
            .where(audit_log.c.district_id == district_id, audit_log.c.entity_id == pk)
            .order_by(audit_log.c.id)
        )
    ]
    found[validation_issues.name] = (
        [
            _plain(r._mapping)
            for r in conn.execute(
                select(validation_issues).where(
                    validation_issues.c.district_id == district_id,
                    validation_issues.c.entity == "student",
                    validation_issues.c.sourced_id == sourced_id,
                )
            )
        ]
        if sourced_id
        else []
    )
    return {"student_id": pk, "tables": found}


def _student_references(pk: str) -> list[tuple[Table, ColumnElement[bool]]]:
    references: list[tuple[Table, ColumnElement[bool]]] = []
    for table in schema.metadata.sorted_tables:
        if table is students:
            continue
        columns = [fk.parent for fk in table.foreign_keys if fk.column is students.c.id]
        conditions: list[ColumnElement[bool]] = [column == pk for column in columns]
        if "person_kind" in table.c and "person_id" in table.c:
            conditions.append((table.c.person_kind == "student") & (table.c.person_id == pk))
        if conditions:
            references.append((table, or_(*conditions)))
    return references


def _plain(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        str(key): _json_value(value)
        for key, value in mapping.items()
        if not any(marker in key for marker in _SECRET_MARKERS)
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
