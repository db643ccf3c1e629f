"""Finding a district's people for search (`store.records.search`): students, educators, and
people only their open issues know ("held": the roster sent them but they failed validation).

Two statements, whatever the number of matches. The first finds who matches and in what order
from the indexes alone: one branch per key, so each is answered by its own index (SQLite would
otherwise walk the district for an OR) — the sourcedId, the email without regard to case, the
student ID, and, when the text looks like a name (no digit, no `@`), every word of it in the
person's stored folded name (`name_key` in the `(district_id, name_key, id)` index; a held
person's name in the issues' by-name index), so "MÜLLER" finds "Müller" on SQLite too. It keeps
the first `limit` in order (exact keys first, then by folded name) and counts them all. The
second reads what the results show of those few: names, roles, grades, schools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    Subquery,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.engine import Connection

from rostersync.store.keyset import Seek, seek_page
from rostersync.store.planner import unindexed
from rostersync.store.sort_keys import NAMED, words_like
from rostersync.store.tables import educators, orgs, students, validation_issues

__all__ = ["PEOPLE", "Found", "PeopleSeek", "PersonHit", "name_like", "search_people"]

T = TypeVar("T")

PEOPLE = ("student", "educator")


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonHit:
    """A person as a search lists them; `held` when only their open issues know them."""

    kind: str
    sourced_id: str | None
    portal_id: str | None
    name: str
    role: str
    student_id: str
    grade: str
    school: str
    email: str
    active: bool
    held: bool


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    """One page of the results of one kind (the first, unless paged), how many matched in all,
    and how many come before the page."""

    rows: list[T]
    total: int
    skipped: int = 0

    @property
    def has_next(self) -> bool:
        return bool(self.rows) and self.skipped + len(self.rows) < self.total

    @property
    def has_previous(self) -> bool:
        return bool(self.rows) and self.skipped > 0


@dataclass(frozen=True, slots=True)
class PeopleSeek:
    """Where a page of people starts: after the person `(kind, ref)` (their sourcedId, or
    portal id when made by hand), or, with `before`, the page that ends just before them. It
    names a person by id only, never by name, so no name goes into a link."""

    kind: str
    ref: str
    before: bool = False


def name_like(text: str) -> bool:
    """Whether a search text may be a name: it has a letter, and no digit and no `@`."""
    return any(c.isalpha() for c in text) and not any(c.isdigit() or c == "@" for c in text)


def _blank() -> ColumnElement[str]:
    return literal("", String)


def _held(district_id: str) -> ColumnElement[bool]:
    v = validation_issues
    return (v.c.district_id == district_id) & (v.c.status == "open") & v.c.entity.in_(PEOPLE)


def _matches(district_id: str, text: str) -> CompoundSelect[Any]:
    """Who matches `text`: each person's kind, sourcedId, portal id, rank (0 for an exact key)
    and sort key (the folded name), from the indexes alone."""
    by_name = name_like(text)
    branches: list[Select[Any]] = []
    for kind, t in (("student", students), ("educator", educators)):
        keys = [t.c.sourced_id == text, func.lower(t.c.email) == text.lower()]
        if kind == "student":
            keys.append(t.c.student_id == text)
        row = select(
            literal(kind, String).label("kind"),
            t.c.sourced_id,
            t.c.id.label("portal_id"),
            case((or_(*keys), 0), else_=1).label("rank"),
            t.c.name_key.label("sort"),
        )
        branches.extend(row.where(t.c.district_id == district_id, key) for key in keys)
        if by_name:
            named = select(t.c.id).where(
                t.c.district_id == district_id, words_like(t.c.name_key, text)
            )
            # The matches' rows by id: the district is only checked (`store.planner`).
            branches.append(row.where(unindexed(t.c.district_id) == district_id, t.c.id.in_(named)))
    v = validation_issues
    # A held person's issues that match, one select per key, each answered from an index that
    # holds what it compares; `exact` 0 for an exact key.
    held = [
        select(v.c.entity, v.c.sourced_id, v.c.name_sort, literal(0).label("exact")).where(
            _held(district_id), match
        )
        for match in (v.c.sourced_id == text, v.c.subject_student_id == text)
    ]
    if by_name:
        held.append(
            select(v.c.entity, v.c.sourced_id, v.c.name_sort, literal(1).label("exact")).where(
                _held(district_id), words_like(v.c.name_sort, text, NAMED)
            )
        )
    h = union_all(*held).subquery()
    branches.append(
        select(
            h.c.entity.label("kind"),
            h.c.sourced_id,
            cast(null(), String).label("portal_id"),
            func.min(h.c.exact).label("rank"),
            func.substr(func.max(h.c.name_sort), 2).label("sort"),  # "0" + name, or "1"
        )
        .where(
            *(
                ~exists().where(p.c.district_id == district_id, p.c.sourced_id == h.c.sourced_id)
                for p in (students, educators)
            ),
        )
        .group_by(h.c.entity, h.c.sourced_id)
    )
    return union(*branches)


def _details(
    conn: Connection, district_id: str, found: Sequence[Any]
) -> dict[tuple[str, str], Any]:
    """What the results show of the people `found`, by (kind, portal id or sourcedId)."""
    parts: list[Select[Any]] = []
    for kind, t in (("student", students), ("educator", educators)):
        ids = [r.portal_id for r in found if r.kind == kind and r.portal_id]
        if not ids:
            continue
        school = orgs.alias(f"{kind}_school")
        parts.append(
            select(
                literal(kind, String).label("kind"),
                t.c.id.label("ref"),
                func.trim(t.c.given_name + " " + t.c.family_name, type_=String).label("name"),
                (t.c.role if kind == "educator" else literal("student", String)).label("role"),
                (t.c.student_id if kind == "student" else _blank()).label("student_id"),
                (t.c.grade if kind == "student" else _blank()).label("grade"),
                func.coalesce(school.c.name, _blank()).label("school"),
                t.c.email,
                t.c.active,
            )
            .select_from(t.outerjoin(school, school.c.id == t.c.school_id))
            .where(t.c.id.in_(ids))
        )
    held = [r.sourced_id for r in found if not r.portal_id]
    if held:
        v = validation_issues
        parts.append(
            select(
                v.c.entity.label("kind"),
                v.c.sourced_id.label("ref"),
                func.max(func.coalesce(v.c.subject_name, "")).label("name"),
                func.max(func.coalesce(v.c.subject_role, v.c.entity)).label("role"),
                func.max(func.coalesce(v.c.subject_student_id, "")).label("student_id"),
                func.max(func.coalesce(v.c.subject_grade, "")).label("grade"),
                func.max(func.coalesce(v.c.subject_school, "")).label("school"),
                _blank().label("email"),
                cast(false(), Boolean).label("active"),
            )
            .where(_held(district_id), v.c.sourced_id.in_(held))
            .group_by(v.c.entity, v.c.sourced_id)
        )
    if not parts:
        return {}
    return {(r.kind, r.ref): r for r in conn.execute(union_all(*parts))}


def _ordered(district_id: str, text: str) -> Subquery:
    """Who matches, each with the key of the results' order: exact keys first, then by folded
    name, then by sourcedId (or portal id), then kind; together unique."""
    sub = _matches(district_id, text).subquery()
    return select(
        sub.c.kind,
        sub.c.sourced_id,
        sub.c.portal_id,
        sub.c.rank,
        func.coalesce(sub.c.sort, _blank()).label("sort"),
        func.coalesce(sub.c.sourced_id, sub.c.portal_id).label("ref"),
    ).subquery("people")


def _seek(conn: Connection, found: Subquery, after: PeopleSeek | None) -> Seek | None:
    """The order's key of the person a cursor names; None (the first page) when they no longer
    match."""
    if after is None:
        return None
    key = conn.execute(
        select(found.c.rank, found.c.sort, found.c.ref, found.c.kind).where(
            found.c.kind == after.kind, found.c.ref == after.ref
        )
    ).first()
    return None if key is None else Seek(tuple(key), before=after.before)


def search_people(
    conn: Connection,
    district_id: str,
    text: str,
    limit: int,
    after: PeopleSeek | None = None,
) -> Found[PersonHit]:
    """The district's people that match `text`, exact keys first, then by name: one page of
    `limit` (the first, or the one `after` names), how many match in all, and how many come
    before the page."""
    found = _ordered(district_id, text)
    keys = [found.c.rank, found.c.sort, found.c.ref, found.c.kind]
    seek = _seek(conn, found, after)
    if seek is None:
        # The first page, counted in the same statement (the usual search: one pass).
        rows = conn.execute(
            select(found, func.count().over().label("total")).order_by(*keys).limit(limit)
        ).all()
        total, skipped = (int(rows[0].total) if rows else 0), 0
    else:
        page = seek_page(
            conn, select(found), where=[], keys=keys, descending=False, seek=seek, size=limit
        )
        rows, total, skipped = page.rows, page.total, page.skipped
    shown = _details(conn, district_id, rows)
    hits = []
    for r in rows:
        d = shown.get((r.kind, r.portal_id or r.sourced_id))
        hits.append(
            PersonHit(
                kind=r.kind,
                sourced_id=r.sourced_id,
                portal_id=r.portal_id,
                name=(d.name if d else "") or "",
                role=(d.role if d else "") or r.kind,
                student_id=(d.student_id if d else "") or "",
                grade=(d.grade if d else "") or "",
                school=(d.school if d else "") or "",
                email=(d.email if d else "") or "",
                active=bool(d.active) if d else False,
                held=not r.portal_id,
            )
        )
    return Found(hits, total, skipped)
