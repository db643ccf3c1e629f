"""Writing a `SyncPlan` to the portal, set-based, inside the caller's transaction.

Per kind, in dependency order: one bulk load of the creates (`store.bulk`: `COPY` on PostgreSQL,
one `executemany` on SQLite), one executemany UPDATE of the updates and restores, and chunked
`UPDATE … WHERE id IN (…)` for the deactivations; then eligibility, then one bulk load of the
audit rows. References between kinds come from the plan's sourcedId → portal id maps, so nothing
is read back per record. The number of
statements is bounded by a constant × kinds × ceil(rows / CHUNK), never by the number of rows;
a test counts them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection

from rostersync.domain.eligibility import Eligibility, EligibilityChange
from rostersync.domain.plan import EntityPlan, PlannedWrite, SyncPlan
from rostersync.domain.records import (
    AcademicSession,
    Course,
    Educator,
    Enrollment,
    EntityKind,
    Org,
    Record,
    SchoolClass,
    Student,
)
from rostersync.errors import RosterSyncError
from rostersync.store.bulk import insert_rows
from rostersync.store.course_links import link_classes
from rostersync.store.planner import unindexed
from rostersync.store.roster import STREAM_ROWS
from rostersync.store.sort_keys import person_name_key
from rostersync.store.tables import ROSTER_TABLES, audit_log, districts, eligibility

# Ids per `IN (…)` list: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 1000
# Rows per executemany of inserts: bounds the rows held in memory at once, not the statements'
# parameters (SQLAlchemy batches those itself).
WRITE_CHUNK = 20_000

Row = dict[str, Any]


def apply_plan(
    conn: Connection,
    *,
    district_id: str,
    run_id: str,
    plan: SyncPlan,
    actor: str,
    now: datetime,
    streamed: Mapping[EntityKind, Iterable[EntityPlan]] | None = None,
    row_hashes: Mapping[EntityKind, RowHashes] | None = None,
) -> None:
    """Write everything a plan intends, with one audit row per changed record.

    Args:
        conn: A connection in a transaction the caller owns and commits.
        district_id: The district the plan is for.
        run_id: The sync run doing the writing (it must exist; audit rows point at it).
        plan: The plan, as `plan_sync` made it.
        actor: Who the audit log names, e.g. "sync run <id>" or a user id.
        now: The timestamp written as created/updated/deactivated/changed time (timezone-aware).
        streamed: For each kind in `plan.streamed`, its writes as a series of small entity
            plans, written one after another as they come (so they never all exist at once).
        row_hashes: For the kinds whose rows may be known unchanged (`domain.unchanged_rows`),
            the hashes of the rows this run read: stored with each record written, and with
            each record planned unchanged whose row hash was not stored yet.

    Raises:
        RosterSyncError: An enrollment names a class or person the portal does not hold. The
            plan and the portal disagree; nothing is written once the caller rolls back.
    """
    writer = _Writer(conn, district_id=district_id, plan=plan, now=now, row_hashes=row_hashes)
    writer.audit_as(run_id=run_id, actor=actor)
    for kind in EntityKind:  # EntityKind is declared in dependency order
        if kind in plan.streamed:
            for part in (streamed or {}).get(kind, ()):
                writer.write_kind(part)
            continue
        entity_plan = plan.entities.get(kind)
        if entity_plan is not None and entity_plan.change_count:
            writer.write_kind(entity_plan)
        if entity_plan is not None:
            writer.write_row_hashes(entity_plan)
    writer.write_eligibility(plan.eligibility, actor=actor)
    writer.flush_audit()


class _Writer:
    """The state of one `apply_plan`: resolved references and the audit rows it collects.

    Rows are built and written WRITE_CHUNK at a time, audit rows included, so a first sync of a
    million students never holds all its rows at once; the statement count stays proportional
    to rows / WRITE_CHUNK.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        district_id: str,
        plan: SyncPlan,
        now: datetime,
        row_hashes: Mapping[EntityKind, RowHashes] | None = None,
    ):
        self.conn = conn
        self.row_hashes = row_hashes or {}
        self.district_id = district_id
        self.now = now
        self.refs = _References(conn, district_id, plan)
        self.audit: list[Row] = []
        self._audit_fields: Row | None = None

    def audit_as(self, *, run_id: str, actor: str) -> None:
        """Write audit rows as they fill a chunk, naming this run and actor."""
        self._audit_fields = {
            "district_id": self.district_id,
            "run_id": run_id,
            "actor": actor,
            "at": self.now,
        }

    def flush_audit(self, *, when_full: bool = False) -> None:
        """Insert the collected audit rows (with `when_full`, only once a chunk has filled)."""
        if self._audit_fields is None or not self.audit:
            return
        if when_full and len(self.audit) < WRITE_CHUNK:
            return
        for row in self.audit:
            row.update(self._audit_fields)
        insert_rows(self.conn, audit_log, self.audit)
        self.audit = []

    def write_kind(self, plan: EntityPlan) -> None:
        kind, table = plan.kind, ROSTER_TABLES[plan.kind]
        writes = [*plan.creates, *plan.updates, *plan.restores]
        self.refs.prepare_for(kind, [w.record for w in writes])
        del writes

        for start in range(0, len(plan.creates), WRITE_CHUNK):
            creates = plan.creates[start : start + WRITE_CHUNK]
            rows = [
                {
                    "id": w.id,
                    "district_id": self.district_id,
                    "sourced_id": w.record.sourced_id,
                    "content_hash": w.content_hash,
                    "active": True,
                    "created_at": self.now,
                    "updated_at": self.now,
                    **self._row_hash(kind, w),
                    **self._columns(w.record),
                    # Given here, not left to the column's default: the rows stay bulk-loadable.
                    **_search_key(w.record),
                }
                for w in creates
            ]
            insert_rows(self.conn, table, rows)
            del rows
            self._audit("create", kind, (w.id for w in creates))
            self.flush_audit(when_full=True)
        if kind is EntityKind.COURSE and plan.creates:
            # Classes a bundle without courses left unlinked (decision 0021) get their course.
            sids = [w.record.sourced_id for w in plan.creates]
            for class_id in link_classes(self.conn, self.district_id, sids, now=self.now):
                self.audit.append(_linked(class_id))

        changed = [*plan.updates, *plan.restores]
        if changed:
            values = {w.id: self._columns(w.record) for w in changed}
            before = self._current(table, list(values), next(iter(values.values())).keys())
            params = [
                {
                    "b_id": w.id,
                    **values[w.id],
                    # Not a value of the record (so never audited as changed): its search key.
                    **_search_key(w.record),
                    "content_hash": w.content_hash,
                    **self._row_hash(kind, w),
                    # The same statement restores: an update of an active row changes nothing.
                    "active": True,
                    "deactivated_at": None,
                    "updated_at": self.now,
                }
                for w in changed
            ]
            self.conn.execute(
                update(table).where(
                    table.c.id == bindparam("b_id"), table.c.district_id == self.district_id
                ),
                params,
            )
            restored = {w.id for w in plan.restores}
            for w in changed:
                old = before.get(w.id, {})
                fields = sorted(k for k, v in values[w.id].items() if old.get(k) != v)
                if not fields and w.id not in restored:
                    # Only the hash moved (a student's eligibility value is hashed but kept in
                    # the eligibility table, which audits it): the account itself is unchanged.
                    continue
                self.audit.append(
                    {
                        "action": "restore" if w.id in restored else "update",
                        "entity_type": kind.value,
                        "entity_id": w.id,
                        "changes": {"fields": fields},
                    }
                )

        if plan.deactivations:
            ids = [stored.id for stored in plan.deactivations]
            gone: dict[str, Any] = {
                "active": False,
                "deactivated_at": self.now,
                "updated_at": self.now,
            }
            if kind is EntityKind.ENROLLMENT:
                # An enrollment that ends without an end date ends today, in the district's time.
                gone["end_date"] = func.coalesce(
                    func.nullif(table.c.end_date, ""), self._district_today()
                )
            for chunk in _chunks(ids):
                self.conn.execute(
                    update(table)
                    .where(
                        unindexed(table.c.district_id) == self.district_id, table.c.id.in_(chunk)
                    )
                    .values(gone)
                )
            self._audit("deactivate", kind, ids)

    def _row_hash(self, kind: EntityKind, write: PlannedWrite) -> Row:
        hashes = self.row_hashes.get(kind)
        if hashes is None:
            return {}
        digest = hashes.of(write.record.sourced_id)
        return {"row_hash": digest, "row_hash_of": write.content_hash if digest else None}

    def write_row_hashes(self, plan: EntityPlan) -> None:
        """Store the row hash of each record planned unchanged from a row read this run, where
        the portal does not hold it yet (a first resync, a row whose ignored cells changed);
        forget it where the record has an issue or is held now, so its row is read again.
        Nothing else of the record changes."""
        hashes = self.row_hashes.get(plan.kind)
        if hashes is None:
            return
        table = ROSTER_TABLES[plan.kind]
        written = {w.record.sourced_id for w in (*plan.creates, *plan.updates, *plan.restores)}
        params = [
            {"b_id": portal_id, "b_hash": hashes.of(sid)}
            for sid, portal_id in plan.ids.items()
            if sid not in written and sid in hashes.read
        ]
        if params:
            self.conn.execute(
                update(table)
                .where(
                    table.c.id == bindparam("b_id"),
                    table.c.district_id == self.district_id,
                    or_(
                        table.c.row_hash.is_distinct_from(bindparam("b_hash")),
                        table.c.row_hash_of.is_distinct_from(table.c.content_hash),
                    ),
                )
                .values(row_hash=bindparam("b_hash"), row_hash_of=table.c.content_hash),
                params,
            )
        for chunk in _chunks(sorted(hashes.held)):
            self.conn.execute(
                update(table)
                .where(
                    table.c.district_id == self.district_id,
                    table.c.sourced_id.in_(chunk),
                    table.c.row_hash.is_not(None),
                )
                .values(row_hash=None, row_hash_of=None)
            )

    def write_eligibility(self, changes: Sequence[EligibilityChange], *, actor: str) -> None:
        # A first sync of a big district sets every student's eligibility: a million rows and
        # audit rows, written WRITE_CHUNK at a time like everything else.
        for start in range(0, len(changes), WRITE_CHUNK):
            self._write_eligibility(changes[start : start + WRITE_CHUNK], actor=actor)
            self.flush_audit(when_full=True)

    def _write_eligibility(self, changes: Sequence[EligibilityChange], *, actor: str) -> None:
        fresh = [c for c in changes if c.before is None]
        known = [c for c in changes if c.before is not None]
        if fresh:
            insert_rows(
                self.conn,
                eligibility,
                [
                    {
                        "student_id": c.student_id,
                        "district_id": self.district_id,
                        **self._eligibility_values(c, actor),
                    }
                    for c in fresh
                ],
            )
        if known:
            self.conn.execute(
                update(eligibility).where(
                    eligibility.c.student_id == bindparam("b_student_id"),
                    eligibility.c.district_id == self.district_id,
                ),
                [
                    {"b_student_id": c.student_id, **self._eligibility_values(c, actor)}
                    for c in known
                ],
            )
        self.audit.extend(
            {
                "action": "eligibility",
                "entity_type": EntityKind.STUDENT.value,
                "entity_id": c.student_id,
                # Status and category are the point of this record; nothing else is copied.
                "changes": {
                    "before": _eligibility_json(c.before),
                    "after": _eligibility_json(c.after),
                    "source": c.source,
                },
            }
            for c in changes
        )

    def _eligibility_values(self, change: EligibilityChange, actor: str) -> Row:
        return {
            "status": change.after.status.value,
            "category": change.after.category,
            "source": change.source,
            "changed_at": self.now,
            "changed_by": actor,
        }

    def _audit(self, action: str, kind: EntityKind, ids: Iterable[str]) -> None:
        self.audit.extend(
            {"action": action, "entity_type": kind.value, "entity_id": i, "changes": None}
            for i in ids
        )

    def _current(self, table: Table, ids: list[str], columns: Iterable[str]) -> dict[str, Row]:
        """The stored values of the given rows, to name what an update changed (chunked)."""
        cols = [table.c[name] for name in columns]
        current: dict[str, Row] = {}
        for chunk in _chunks(ids):
            stmt = select(table.c.id, *cols).where(
                unindexed(table.c.district_id) == self.district_id, table.c.id.in_(chunk)
            )
            for row in self.conn.execute(stmt):
                values = dict(row._mapping)
                current[values.pop("id")] = values
        return current

    def _district_today(self) -> str:
        zone = self.conn.execute(
            select(districts.c.time_zone).where(districts.c.id == self.district_id)
        ).scalar()
        try:
            local = self.now.astimezone(ZoneInfo(zone)) if zone else self.now
        except (ZoneInfoNotFoundError, ValueError):
            local = self.now
        return local.date().isoformat()

    def _columns(self, record: Record) -> Row:
        """The table columns a domain record fills, with references resolved to portal ids."""
        refs = self.refs
        if isinstance(record, Org):
            return {
                "name": record.name,
                "type": record.type,
                "identifier": record.identifier,
                "parent_sourced_id": record.parent_sourced_id,
            }
        if isinstance(record, AcademicSession):
            return {
                "title": record.title,
                "type": record.type,
                "start_date": record.start_date,
                "end_date": record.end_date,
                "school_year": record.school_year,
                "parent_sourced_id": record.parent_sourced_id,
            }
        if isinstance(record, Course):
            return {
                "title": record.title,
                "course_code": record.course_code,
                "org_sourced_id": record.org_sourced_id,
                "school_year_sourced_id": record.school_year_sourced_id,
                "grades": list(record.grades),
            }
        if isinstance(record, SchoolClass):
            return {
                "title": record.title,
                "class_code": record.class_code,
                "class_type": record.class_type,
                "course_sourced_id": record.course_sourced_id,
                "school_sourced_id": record.school_sourced_id,
                "course_id": refs.get(EntityKind.COURSE, record.course_sourced_id),
                "school_id": refs.get(EntityKind.ORG, record.school_sourced_id),
                "term_sourced_ids": list(record.term_sourced_ids),
                "grades": list(record.grades),
            }
        if isinstance(record, Student | Educator):
            values: Row = {
                "username": record.username,
                "given_name": record.given_name,
                "family_name": record.family_name,
                "email": record.email,
                "school_sourced_ids": list(record.school_sourced_ids),
                "school_id": refs.get(EntityKind.ORG, _first(record.school_sourced_ids)),
                "enabled": record.enabled,
            }
            if isinstance(record, Student):
                values.update(student_id=record.student_id, grade=record.grade)
            else:
                values["role"] = record.role
            return values
        if isinstance(record, Enrollment):
            class_id = refs.get(EntityKind.CLASS, record.class_sourced_id)
            student_id, educator_id = refs.person(record.user_sourced_id, record.role)
            if class_id is None or (student_id is None and educator_id is None):
                missing = "class" if class_id is None else "person"
                raise RosterSyncError(
                    f"enrollment {record.sourced_id!r} names a {missing} the portal does not "
                    f"hold (class {record.class_sourced_id!r}, user {record.user_sourced_id!r}); "
                    "nothing was written. This is a bug: validation should have held it."
                )
            return {
                "class_sourced_id": record.class_sourced_id,
                "school_sourced_id": record.school_sourced_id,
                "user_sourced_id": record.user_sourced_id,
                "class_id": class_id,
                "school_id": refs.get(EntityKind.ORG, record.school_sourced_id),
                "student_id": student_id,
                "educator_id": educator_id,
                "role": record.role,
                "primary": record.primary,
                "begin_date": record.begin_date,
                "end_date": record.end_date,
            }
        raise TypeError(f"no table for {type(record).__name__} records")


@dataclass(frozen=True, slots=True)
class RowHashes:
    """The hashes of one kind's rows read this run (`KnownRows.hashes_for`); the sourcedIds
    with an issue this run, whose row hash is never stored; and those held this run, whose
    stored row hash is forgotten (each such row must be read again next time)."""

    read: Mapping[str, str]
    flagged: Collection[str]
    held: Collection[str] = ()

    def of(self, sourced_id: str) -> str | None:
        if sourced_id in self.flagged:
            return None
        return self.read.get(sourced_id)


def _search_key(record: Record) -> Row:
    """A person's `name_key`, written beside their name (the same value the column's INSERT
    default computes, `store.sort_keys.person_name_default`)."""
    if isinstance(record, Student | Educator):
        return {"name_key": person_name_key(record.given_name, record.family_name)}
    return {}


class _References:
    """sourcedId → portal id per kind, from the plan, topped up from the database in bulk.

    The plan knows every valid record of this pull. A kind the plan lacks is read whole in one
    SELECT; a reference the plan cannot resolve (say, to a record a partial pull left out) is
    looked up in chunks, once, before the rows that need it are built.
    """

    def __init__(self, conn: Connection, district_id: str, plan: SyncPlan) -> None:
        self._conn = conn
        self._district_id = district_id
        # The plan's own maps, read but never changed (they can hold millions of entries);
        # what the database adds goes to `_found`.
        self._ids: dict[EntityKind, dict[str, str]] = {
            kind: p.ids for kind, p in plan.entities.items()
        }
        self._found: dict[EntityKind, dict[str, str]] = {}
        self._looked_up: dict[EntityKind, set[str]] = {}

    def get(self, kind: EntityKind, sourced_id: str | None) -> str | None:
        if not sourced_id:
            return None
        found = self._ids.get(kind, {}).get(sourced_id)
        if found is None and kind in self._found:
            return self._found[kind].get(sourced_id)
        return found

    def person(self, sourced_id: str, role: str) -> tuple[str | None, str | None]:
        """(student id, educator id) of an enrollment's user; at most one is set."""
        student = self.get(EntityKind.STUDENT, sourced_id)
        educator = self.get(EntityKind.EDUCATOR, sourced_id)
        if student and educator:  # the same sourcedId in both tables: trust the role
            return (student, None) if role == "student" else (None, educator)
        return student, educator

    def prepare_for(self, kind: EntityKind, records: Sequence[Record]) -> None:
        """Make sure every reference the given records make can be resolved without a query."""
        wanted: dict[EntityKind, set[str]] = {}

        def want(target: EntityKind, sourced_id: str | None) -> None:
            if sourced_id:
                wanted.setdefault(target, set()).add(sourced_id)

        for record in records:
            if isinstance(record, SchoolClass):
                want(EntityKind.COURSE, record.course_sourced_id)
                want(EntityKind.ORG, record.school_sourced_id)
            elif isinstance(record, Student | Educator):
                want(EntityKind.ORG, _first(record.school_sourced_ids))
            elif isinstance(record, Enrollment):
                want(EntityKind.CLASS, record.class_sourced_id)
                want(EntityKind.ORG, record.school_sourced_id)
                want(
                    EntityKind.STUDENT if record.role == "student" else EntityKind.EDUCATOR,
                    record.user_sourced_id,
                )
        for target, sourced_ids in wanted.items():
            self._ensure(target, sourced_ids)
        if kind is EntityKind.ENROLLMENT:
            # A user not found where the role points may still be in the other table.
            users = {r.user_sourced_id for r in records if isinstance(r, Enrollment)}
            unresolved = {
                u
                for u in users
                if self.get(EntityKind.STUDENT, u) is None
                and self.get(EntityKind.EDUCATOR, u) is None
            }
            self._ensure(EntityKind.STUDENT, unresolved)
            self._ensure(EntityKind.EDUCATOR, unresolved)

    def _ensure(self, kind: EntityKind, sourced_ids: set[str]) -> None:
        if not sourced_ids:
            return
        table = ROSTER_TABLES[kind]
        known = self._ids.get(kind)
        if known is None:
            select_all = select(table.c.sourced_id, table.c.id).where(
                table.c.district_id == self._district_id, table.c.sourced_id.is_not(None)
            )
            self._ids[kind] = {
                row.sourced_id: row.id
                for row in self._conn.execute(select_all.execution_options(yield_per=STREAM_ROWS))
            }
            return
        looked_up = self._looked_up.setdefault(kind, set())
        missing = sorted(sourced_ids - known.keys() - looked_up)
        looked_up.update(missing)
        found = self._found.setdefault(kind, {})
        for chunk in _chunks(missing):
            stmt = select(table.c.sourced_id, table.c.id).where(
                table.c.district_id == self._district_id, table.c.sourced_id.in_(chunk)
            )
            found.update((row.sourced_id, row.id) for row in self._conn.execute(stmt))


def _linked(class_id: str) -> Row:
    changes = {"fields": ["course_id"]}
    return {"action": "update", "entity_type": "class", "entity_id": class_id, "changes": changes}


def _first(values: Sequence[str]) -> str | None:
    return values[0] if values else None


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _eligibility_json(value: Eligibility | None) -> dict[str, str | None] | None:
    if value is None:
        return None
    return {"status": value.status.value, "category": value.category}
