"""Every change a held run's plan would make, kept for the person who decides it.

A plan's summary keeps the first 200 sourcedIds of each kind and outcome; a district that lost
5,000 students needs to see all 5,000 before approving. When a run is held, `record` writes each
of its changes (kind, what would happen, sourcedId) to `plan_changes`, a batch per statement, in
the transaction that holds the run; `decide_run` (`store.workflow`) deletes them
when the run is approved or discarded, since only a pending run's page lists them.

`page` reads them a page at a time by keyset, with the list's total, each named from the record
the portal holds (`store.plan_subjects`: a page's records looked up, or, for a search by name,
student ID or ClassLink id, every change joined to its record in the same statement); `every`
reads all that match, named, for the download. No name is copied into the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Select, String, exists, func, insert, or_, select
from sqlalchemy.engine import Connection

from rostersync.domain.match import MatchResult
from rostersync.domain.plan import EntityPlan, SyncPlan
from rostersync.domain.records import EntityKind
from rostersync.store.keyset import Seek, SeekPage, seek_page
from rostersync.store.plan_subjects import PlanSubject, listed_subjects, lookup_subjects
from rostersync.store.workflow_tables import plan_changes

# People first (whom a hold is usually about), then what they are enrolled in.
KINDS = ("student", "educator", "enrollment", "class", "course", "org", "academicSession")
# The changes a person reviews, in the order they are listed.
ACTIONS = ("deactivate", "update", "create", "restore")
# Rows per INSERT (one executemany each).
BATCH = 5_000
# The sort key of the list, and its cursor's shape (`web/paging.py`).
KEY_SHAPE = ("int", "str")

Change = tuple[str, str, str]  # (kind, action, sourcedId)


def section(kind: str, action: str) -> int:
    """Where a change is listed: by kind (people first), then by action."""
    rank = KINDS.index(kind) if kind in KINDS else len(KINDS)
    return rank * len(ACTIONS) + ACTIONS.index(action)


def changes_of(
    plan: SyncPlan, matched: MatchResult, streamed: Mapping[EntityKind, Iterable[EntityPlan]]
) -> Iterator[Change]:
    """Each change the plan would make, as the summary counts them (`sync/report.py`
    `plan_summary`): an update or restore of a record that links an existing account is a match,
    not listed. A streamed kind's changes come from `streamed`, a chunk at a time."""
    for kind, entity in plan.entities.items():
        chunks = streamed.get(kind, ()) if kind in plan.streamed else (entity,)
        linked = {m.account_id for m in matched.matches.get(kind, [])}
        name = kind.value
        for chunk in chunks:
            yield from ((name, "create", w.record.sourced_id) for w in chunk.creates)
            yield from (
                (name, "update", w.record.sourced_id) for w in chunk.updates if w.id not in linked
            )
            yield from (
                (name, "restore", w.record.sourced_id) for w in chunk.restores if w.id not in linked
            )
            yield from ((name, "deactivate", s.sourced_id) for s in chunk.deactivations)


def record(conn: Connection, run_id: str, changes: Iterable[Change]) -> int:
    """Write a held run's changes, BATCH rows per statement; returns how many."""
    written = 0
    it = iter(changes)
    while batch := list(islice(it, BATCH)):
        conn.execute(
            insert(plan_changes),
            [
                {
                    "run_id": run_id,
                    "section": section(kind, action),
                    "sourced_id": sourced_id,
                    "kind": kind,
                    "action": action,
                }
                for kind, action, sourced_id in batch
            ],
        )
        written += len(batch)
    return written


def recorded(conn: Connection, run_id: str) -> bool:
    """Whether the run's changes were listed when it was held (not so for a preview, or for a
    run held before they were)."""
    return bool(conn.execute(select(exists().where(plan_changes.c.run_id == run_id))).scalar())


@dataclass(frozen=True, slots=True)
class ListedChange:
    """One listed change and its record as the portal holds it (`in_portal` False: one the plan
    would create, or one gone since, with no name)."""

    kind: str
    action: str
    sourced_id: str
    in_portal: bool
    name: str
    role: str
    student_id: str
    school: str


def _listed(row: Any) -> ListedChange:
    m = row._mapping
    return ListedChange(
        kind=str(m["kind"]),
        action=str(m["action"]),
        sourced_id=str(m["sourced_id"]),
        in_portal=m["portal_id"] is not None,
        name=str(m["name"] or ""),
        role=str(m["role"] or ""),
        student_id=str(m["student_id"] or ""),
        school=str(m["school"] or ""),
    )


def _sections(action: str) -> list[int]:
    """The sections of one action, every kind's (and an unknown kind's)."""
    return [section(kind, action) for kind in (*KINDS, "")]


def _searched(
    conn: Connection, run_id: str, district_id: str, action: str, text: str
) -> tuple[Select[Any], list[ColumnElement[bool]], list[ColumnElement[Any]]]:
    """The listed changes named (`listed_subjects`), their conditions (an action, a search by
    name, student ID or ClassLink id, case-insensitive, wildcards taken as themselves) and their
    sort key."""
    listed = listed_subjects(run_id, district_id, lateral=conn.dialect.name == "postgresql")
    where: list[ColumnElement[bool]] = []
    if action:
        where.append(listed.c.section.in_(_sections(action)))
    needle = text.strip().lower()
    if needle:
        where.append(
            or_(
                func.lower(listed.c.name, type_=String).contains(needle, autoescape=True),
                func.lower(listed.c.student_id, type_=String) == needle,
                func.lower(listed.c.sourced_id, type_=String).contains(needle, autoescape=True),
            )
        )
    return select(listed), where, [listed.c.section, listed.c.sourced_id]


def page(
    conn: Connection,
    run_id: str,
    district_id: str,
    *,
    action: str = "",
    text: str = "",
    seek: Seek | None = None,
    size: int = 50,
) -> tuple[SeekPage, list[ListedChange]]:
    """One page of a held run's changes of `action` (every action when empty) whose name,
    student ID or ClassLink id has `text`, with the list's total and the page's place in it.

    Without a search, the page and its counts read `plan_changes` alone, through its primary
    key, and only the page's records are named (`lookup_subjects`); a search reads the changes
    named, since it matches on names.
    """
    if text.strip():
        stmt, where, keys = _searched(conn, run_id, district_id, action, text)
        found = seek_page(
            conn, stmt, where=where, keys=keys, descending=False, seek=seek, size=size
        )
        return found, [_listed(row) for row in found.rows]
    h = plan_changes
    scope: list[ColumnElement[bool]] = [h.c.run_id == run_id]
    if action:
        scope.append(h.c.section.in_(_sections(action)))
    plain: Select[Any] = select(h.c.section, h.c.kind, h.c.action, h.c.sourced_id)
    order: list[ColumnElement[Any]] = [h.c.section, h.c.sourced_id]
    found = seek_page(conn, plain, where=scope, keys=order, descending=False, seek=seek, size=size)
    subjects = lookup_subjects(conn, district_id, [(r.kind, r.sourced_id) for r in found.rows])
    return found, [_subject_of(r, subjects.get((r.kind, r.sourced_id))) for r in found.rows]


def _subject_of(row: Any, subject: PlanSubject | None) -> ListedChange:
    return ListedChange(
        kind=row.kind,
        action=row.action,
        sourced_id=row.sourced_id,
        in_portal=subject is not None,
        name=subject.name if subject else "",
        role=subject.role if subject else "",
        student_id=subject.student_id if subject else "",
        school=subject.school if subject else "",
    )


def every(
    conn: Connection, run_id: str, district_id: str, *, action: str = "", text: str = ""
) -> Iterator[ListedChange]:
    """Every change of the list `page` pages, named, in its order, in one statement."""
    stmt, where, keys = _searched(conn, run_id, district_id, action, text)
    for row in conn.execute(stmt.where(*where).order_by(*keys)):
        yield _listed(row)
