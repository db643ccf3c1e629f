"""Finding a district's records: search, and what every record's page shares.

`search` finds people, classes and schools by name, email, the district's student ID or the
ClassLink sourcedId, each kind capped, with its total counted. People are found in two
statements from the indexes (`store.people_search`): the exact keys through `(district_id,
sourced_id)` (unique), `(district_id, student_id)` and `(district_id, lower(email))`, a name word
by word in the stored folded names (Unicode case folded, so "MÜLLER" finds "Müller" on SQLite
too). Classes and schools, far fewer, are matched by `lower()` and `LIKE` over the district's.

A record the roster sent but that failed validation was never provisioned: it is "held", and
what is known of it is the subject its open issues keep (`validation_issues.subject_*`, migration
0013). Search lists held people and classes too, and their pages show that name.

What every record's page (`store.record_pages`) shows below its values is read here too:
`record_page` reads a record's open issues (one statement), its audit history through the audit
log's `entity_id` index (one statement), and names its actors with `actor_names`: staff by
display name, educators by name, sync runs by when they started, one statement per kind.

Every function takes a `Connection`; nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import Connection

from rostersync.store.people_search import (
    PEOPLE,
    Found,
    PeopleSeek,
    PersonHit,
    name_like,
    search_people,
)
from rostersync.store.planner import unindexed
from rostersync.store.runs import AuditEntry, IssueRecord
from rostersync.store.sort_keys import NAMED, words_like
from rostersync.store.tables import (
    audit_log,
    classes,
    educators,
    enrollments,
    orgs,
    sync_runs,
    validation_issues,
)
from rostersync.store.web_tables import staff_accounts

# Results per kind a search lists; the rest are counted. History rows a page lists.
SEARCH_CAP = 50
HISTORY_CAP = 200


# What a search finds -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ClassHit:
    """A class as a search lists it, with its teachers' names."""

    sourced_id: str
    title: str
    code: str
    school: str
    teachers: tuple[str, ...]
    active: bool
    held: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SchoolHit:
    """A school (or the district's own org) as a search lists it."""

    sourced_id: str
    name: str
    type: str
    identifier: str
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResults:
    """What one search found, per kind."""

    text: str
    people: Found[PersonHit]
    classes: Found[ClassHit]
    schools: Found[SchoolHit]


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _words_in(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """Every word of `text` appears in `column`, without regard to case (`str.lower`, as SQL's
    `lower()`; SQLite's folds ASCII only). `%` and `_` are matched as themselves."""
    words = [w for w in text.lower().split() if w]
    return and_(
        true(),
        *[func.lower(column).like(f"%{_escape_like(w)}%", escape="\\") for w in words],
    )


def _name_of_sort(name_sort: ColumnElement[str]) -> ColumnElement[str]:
    """A record's folded name from its sort key (`"0" + name`, or `"1"` for none: "")."""
    return func.substr(name_sort, 2)


def _full_name(given: ColumnElement[str], family: ColumnElement[str]) -> ColumnElement[str]:
    return func.trim(given + literal(" ", String) + family, type_=String)


def _blank() -> ColumnElement[str]:
    return literal("", String)


def _counted(query: Any, order: Sequence[Any], limit: int) -> Select[Any]:
    """`query`'s first `limit` rows in `order`, each with the count of every row."""
    sub = query.subquery()
    return (
        select(sub, func.count().over().label("total"))
        .order_by(*[sub.c[name] for name in order])
        .limit(limit)
    )


def _held(entity: Collection[str], district_id: str) -> ColumnElement[bool]:
    t = validation_issues
    return and_(t.c.district_id == district_id, t.c.status == "open", t.c.entity.in_(entity))


def _not_in(table: Any, district_id: str) -> ColumnElement[bool]:
    t = validation_issues
    return ~exists().where(table.c.district_id == district_id, table.c.sourced_id == t.c.sourced_id)


def class_teachers(conn: Connection, class_ids: Sequence[str]) -> dict[str, list[str]]:
    """The names of each class's active teachers (any educator enrolled), primary first: one
    statement for all the classes."""
    if not class_ids:
        return {}
    e, ed = enrollments, educators
    rows = conn.execute(
        select(e.c.class_id, _full_name(ed.c.given_name, ed.c.family_name).label("name"))
        .select_from(e.join(ed, ed.c.id == e.c.educator_id))
        .where(e.c.class_id.in_(list(class_ids)), e.c.active)
        .order_by(e.c.class_id, e.c.primary.desc(), ed.c.family_name, ed.c.given_name)
    )
    found: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        found[row.class_id].append(row.name)
    return found


def _search_classes(conn: Connection, district_id: str, text: str, limit: int) -> Found[ClassHit]:
    c = classes
    school = orgs.alias("class_school")
    exact = or_(c.c.sourced_id == text, func.lower(c.c.class_code) == text.lower())
    portal = (
        select(
            c.c.sourced_id,
            c.c.id.label("portal_id"),
            c.c.title,
            c.c.class_code.label("code"),
            func.coalesce(school.c.name, _blank()).label("school"),
            c.c.active,
            cast(false(), Boolean).label("held"),
            case((exact, 0), else_=1).label("rank"),
            func.lower(c.c.title).label("sort"),
        )
        .select_from(c.outerjoin(school, school.c.id == c.c.school_id))
        .where(c.c.district_id == district_id, or_(exact, _words_in(c.c.title, text)))
    )
    v = validation_issues
    held_exact = or_(v.c.sourced_id == text, func.lower(v.c.subject_code) == text.lower())
    held = (
        select(
            v.c.sourced_id,
            cast(null(), String).label("portal_id"),
            func.max(func.coalesce(v.c.subject_name, "")).label("title"),
            func.max(func.coalesce(v.c.subject_code, "")).label("code"),
            func.max(func.coalesce(v.c.subject_school, "")).label("school"),
            cast(false(), Boolean).label("active"),
            cast(true(), Boolean).label("held"),
            func.min(case((held_exact, 0), else_=1)).label("rank"),
            _name_of_sort(func.max(v.c.name_sort)).label("sort"),
        )
        .where(
            _held(("class",), district_id),
            or_(held_exact, words_like(v.c.name_sort, text, NAMED)),
            _not_in(classes, district_id),
        )
        .group_by(v.c.sourced_id)
    )
    rows = conn.execute(_counted(union_all(portal, held), ("rank", "sort", "sourced_id"), limit))
    found = rows.all()
    teachers = class_teachers(conn, [r.portal_id for r in found if r.portal_id])
    hits = [
        ClassHit(
            sourced_id=r.sourced_id,
            title=r.title or "",
            code=r.code or "",
            school=r.school or "",
            teachers=tuple(teachers.get(r.portal_id, ())),
            active=bool(r.active),
            held=bool(r.held),
        )
        for r in found
    ]
    return Found(hits, int(found[0].total) if found else 0)


def _search_schools(conn: Connection, district_id: str, text: str, limit: int) -> Found[SchoolHit]:
    o = orgs
    exact = or_(o.c.sourced_id == text, o.c.identifier == text)
    query = select(
        o.c.sourced_id,
        o.c.name,
        o.c.type,
        o.c.identifier,
        o.c.active,
        case((exact, 0), else_=1).label("rank"),
        func.lower(o.c.name).label("sort"),
    ).where(o.c.district_id == district_id, or_(exact, _words_in(o.c.name, text)))
    rows = conn.execute(_counted(query, ("rank", "sort", "sourced_id"), limit)).all()
    hits = [
        SchoolHit(
            sourced_id=r.sourced_id,
            name=r.name,
            type=r.type,
            identifier=r.identifier or "",
            active=bool(r.active),
        )
        for r in rows
    ]
    return Found(hits, int(rows[0].total) if rows else 0)


def search(
    conn: Connection,
    district_id: str,
    text: str,
    *,
    limit: int = SEARCH_CAP,
    people_after: PeopleSeek | None = None,
) -> SearchResults:
    """People, classes and schools of the district that match `text`, exact keys first.

    Args:
        conn: A connection.
        district_id: The district; no other district's record is ever read.
        text: A name (every word must appear), an email, a student ID, a class code or a
            ClassLink sourcedId (exactly, without regard to case for emails and codes).
        limit: How many of each kind to list; the rest are only counted (people are paged:
            `people_after` names where their page starts).
        people_after: The person after (or before) whom the page of people starts.
    """
    text = " ".join(text.split())
    if not text:
        return SearchResults(
            text="", people=Found([], 0), classes=Found([], 0), schools=Found([], 0)
        )
    return SearchResults(
        text=text,
        people=search_people(conn, district_id, text, limit, people_after),
        classes=_search_classes(conn, district_id, text, limit),
        schools=_search_schools(conn, district_id, text, limit),
    )


# Who did it --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ActorName:
    """An audit actor as people know it.

    `kind` is "staff" (a staff account), "educator" (a teacher in the people's portal) or
    "sync_run" (a run: `run_id` and `started_at` say which); `sourced_id` is an educator's,
    for a link to their page.
    """

    kind: str
    name: str
    role: str = ""
    run_id: str | None = None
    started_at: datetime | None = None
    sourced_id: str | None = None


SYNC_RUN = "sync run "


def actor_names(
    conn: Connection, district_id: str, actors: Collection[str]
) -> dict[str, ActorName]:
    """The names of the staff, educators and sync runs among `actors`; others are left out.

    One statement per kind of actor present. An educator or a run of another district is not
    named; staff accounts are named by id alone (vendor staff belong to no district).
    """
    staff_ids, educator_ids, run_ids = set(), set(), set()
    for actor in actors:
        if actor.startswith("staff:"):
            staff_ids.add(actor.removeprefix("staff:"))
        elif actor.startswith("educator:"):
            educator_ids.add(actor.removeprefix("educator:"))
        elif actor.startswith(SYNC_RUN):
            run_ids.add(actor.removeprefix(SYNC_RUN))
    found: dict[str, ActorName] = {}
    if staff_ids:
        s = staff_accounts
        for staff in conn.execute(
            select(s.c.id, s.c.display_name, s.c.role).where(s.c.id.in_(sorted(staff_ids)))
        ):
            role = "vendor staff" if staff.role == "vendor_staff" else "data manager"
            found[f"staff:{staff.id}"] = ActorName(kind="staff", name=staff.display_name, role=role)
    if educator_ids:
        e = educators
        for person in conn.execute(
            select(e.c.id, e.c.sourced_id, e.c.role, e.c.given_name, e.c.family_name).where(
                e.c.id.in_(sorted(educator_ids)), unindexed(e.c.district_id) == district_id
            )
        ):
            found[f"educator:{person.id}"] = ActorName(
                kind="educator",
                name=f"{person.given_name} {person.family_name}".strip(),
                role=person.role,
                sourced_id=person.sourced_id,
            )
    if run_ids:
        r = sync_runs
        for row in conn.execute(
            select(r.c.id, r.c.started_at).where(
                r.c.id.in_(sorted(run_ids)), unindexed(r.c.district_id) == district_id
            )
        ):
            found[f"{SYNC_RUN}{row.id}"] = ActorName(
                kind="sync_run", name="sync run", run_id=row.id, started_at=row.started_at
            )
    return found


# What every record's page shares -----------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One audited change of the record, or of one of its enrollments (`about` names it)."""

    entry: AuditEntry
    about: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordPage:
    """What every record's page shows below its values."""

    issues: list[IssueRecord]
    history: list[HistoryEntry]
    actors: dict[str, ActorName]


def record_page(
    conn: Connection,
    district_id: str,
    *,
    keys: Collection[tuple[str, str]],
    about: dict[str, str],
    actors: Collection[str] = (),
) -> RecordPage:
    """The open issues of the (kind, sourcedId) `keys`, the history of the portal ids in
    `about` (id → what the page calls it), and the names of every actor they and `actors` name."""
    issues = open_issues_of(conn, district_id, keys)
    history = history_of(conn, district_id, about)
    named = actor_names(conn, district_id, {*actors, *(h.entry.actor for h in history)})
    return RecordPage(issues=issues, history=history, actors=named)


def open_issues_of(
    conn: Connection, district_id: str, keys: Collection[tuple[str, str]]
) -> list[IssueRecord]:
    """The open issues of these (kind, sourcedId) records, errors first: one statement."""
    if not keys:
        return []
    t = validation_issues
    columns = [t.c[name] for name in IssueRecord.__dataclass_fields__]
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, sourced_id in keys:
        by_kind[kind].append(sourced_id)
    which = or_(*[and_(t.c.entity == k, t.c.sourced_id.in_(ids)) for k, ids in by_kind.items()])
    stmt = (
        select(*columns)
        .where(t.c.district_id == district_id, t.c.status == "open", which)
        .order_by(t.c.severity != "error", t.c.entity, t.c.field, t.c.code)
    )
    return [IssueRecord(**row._mapping) for row in conn.execute(stmt)]


def history_of(
    conn: Connection, district_id: str, about: dict[str, str], *, limit: int = HISTORY_CAP
) -> list[HistoryEntry]:
    """The newest audit entries of these portal ids: one statement, through the audit log's
    `entity_id` index (on SQLite, never its district's: `store.planner`)."""
    if not about:
        return []
    a = audit_log
    columns = [a.c[name] for name in AuditEntry.__dataclass_fields__]
    rows = conn.execute(
        select(*columns)
        .where(a.c.entity_id.in_(sorted(about)), unindexed(a.c.district_id) == district_id)
        .order_by(a.c.id.desc())
        .limit(limit)
    )
    return [
        HistoryEntry(entry=entry, about=about.get(entry.entity_id, ""))
        for entry in (AuditEntry(**row._mapping) for row in rows)
    ]


def held_subject(
    conn: Connection, district_id: str, kinds: Collection[str], sourced_id: str
) -> IssueRecord | None:
    """The newest open issue of a record of `kinds`, named when any issue names it; None when
    it has no open issue."""
    t = validation_issues
    columns = [t.c[name] for name in IssueRecord.__dataclass_fields__]
    row = conn.execute(
        select(*columns)
        .where(
            t.c.district_id == district_id,
            t.c.status == "open",
            t.c.entity.in_(list(kinds)),
            t.c.sourced_id == sourced_id,
        )
        .order_by(t.c.subject_name.is_(None), t.c.created_at.desc())
        .limit(1)
    ).first()
    return None if row is None else IssueRecord(**row._mapping)


__all__ = [
    "HISTORY_CAP",
    "PEOPLE",
    "SEARCH_CAP",
    "SYNC_RUN",
    "ActorName",
    "ClassHit",
    "Found",
    "HistoryEntry",
    "PeopleSeek",
    "PersonHit",
    "RecordPage",
    "SchoolHit",
    "SearchResults",
    "actor_names",
    "class_teachers",
    "held_subject",
    "history_of",
    "name_like",
    "open_issues_of",
    "record_page",
    "search",
]
