"""A district's open issues as the issues page lists them: filtered, ordered and paged in SQL.

Each of the page's orders (by problem, name or school) is a stored sort key, its columns unique
together, that an index on `validation_issues` serves after its filters' equalities
(`tables.ISSUE_BY_*`); a name or school is ordered by its case fold, unnamed records last
(`store.sort_keys`). A page is read by keyset: it starts after (or, for Previous, ends before)
the issue whose id the link carries, so the last of 500 pages costs what the first does, and
the link carries no name.

A request reads, set-based: the district's open issues counted once in one grouped statement
(per problem, school, grade and role: the problem counts under the filters and the values each
filter offers both come from it), one page of issues through the order's index, and how many
come before the page. A record is found by its sourcedId or student ID exactly, or by part of
its name without regard to case ("MÜLLER" finds "Müller", on SQLite too).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, or_, select, tuple_, union
from sqlalchemy.engine import Connection

from rostersync.domain.issue_groups import (
    PAGE_SIZE,
    Audience,
    IssueFilters,
    ProblemCount,
    grade_order,
)
from rostersync.store.runs import IssueRecord
from rostersync.store.sort_keys import NAMED, key_contains, sort_key
from rostersync.store.tables import (
    ISSUE_BY_NAME,
    ISSUE_BY_PROBLEM,
    ISSUE_BY_SCHOOL,
    validation_issues,
)

__all__ = ["IssueChoices", "IssueList", "IssueSeek", "IssueWindow", "issue_list"]

# The most issues a search reads as ids (`_found`).
FOUND_BY_ID = 2000
# Each order's sort key columns (severity orders errors first: "error" < "warning").
_ORDERS = {"problem": ISSUE_BY_PROBLEM, "name": ISSUE_BY_NAME, "school": ISSUE_BY_SCHOOL}


@dataclass(frozen=True, slots=True)
class IssueSeek:
    """Where a page starts: just after the issue `issue_id`, or with `before` the page that ends
    just before it; `before` with no issue is the list's last page."""

    issue_id: str = ""
    before: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueWindow:
    """Where a page stands in the list: "Showing 51–100 of 740", and its first and last issue
    (what its Previous and Next links start from)."""

    total: int
    skipped: int
    shown: int
    size: int
    first_id: str = ""
    last_id: str = ""

    @property
    def first(self) -> int:
        return self.skipped + 1 if self.shown else 0

    @property
    def last(self) -> int:
        return self.skipped + self.shown

    @property
    def has_previous(self) -> bool:
        return self.skipped > 0 and self.shown > 0

    @property
    def has_next(self) -> bool:
        return self.shown > 0 and self.last < self.total

    @property
    def paged(self) -> bool:
        """Whether the list takes more than one page."""
        return self.total > self.size

    def words(self) -> str:
        """`Showing 1–50 of 740`, or that none match."""
        if not self.total:
            return "No open issue matches."
        return f"Showing {self.first:,}–{self.last:,} of {self.total:,}"


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueChoices:
    """The values the page's filters offer: those the district's open issues have."""

    codes: list[str] = field(default_factory=list)
    schools: list[str] = field(default_factory=list)
    grades: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueList:
    """What the issues page shows of a district: how it fixes a record (`audience`), its open
    issues counted per problem under the filters but the problem's own, what each filter offers,
    and the page of the issues that match every filter (all of them for a download)."""

    audience: Audience
    problems: list[ProblemCount]
    choices: IssueChoices
    window: IssueWindow
    issues: list[IssueRecord]


def _found(conn: Connection, district_id: str, text: str) -> ColumnElement[bool]:
    """The issues of the records a search finds: by part of the name or the sourcedId (the
    by-name index holds both), or by student ID (the counts' index holds it). Read once, as ids,
    so the counts and the page look the few up instead of searching again; a search that finds
    more than `FOUND_BY_ID` is kept as a condition."""
    t = validation_issues
    scope = (t.c.district_id == district_id, t.c.status == "open")
    named = key_contains(t.c.name_sort, text, NAMED)
    found = union(
        select(t.c.id).where(*scope, or_(named, t.c.sourced_id == text)),
        select(t.c.id).where(*scope, t.c.subject_student_id == text),
    )
    ids = list(conn.execute(found.limit(FOUND_BY_ID + 1)).scalars())
    return t.c.id.in_(found) if len(ids) > FOUND_BY_ID else t.c.id.in_(ids)


def _matching(
    district_id: str, filters: IssueFilters, found: ColumnElement[bool] | None
) -> list[ColumnElement[bool]]:
    """The conditions of every filter but the problem's (`code`); `found`, the search's."""
    t = validation_issues
    where: list[ColumnElement[bool]] = [t.c.district_id == district_id, t.c.status == "open"]
    if filters.school:
        # The school's key leads an index; the name itself tells two spellings apart.
        where += [t.c.school_sort == sort_key(filters.school), t.c.subject_school == filters.school]
    if filters.grade:
        where.append(t.c.subject_grade == filters.grade)
    if filters.role:
        where.append(t.c.subject_role == filters.role)
    if found is not None:
        where.append(found)
    return where


def _keys(filters: IssueFilters) -> list[ColumnElement[Any]]:
    return [validation_issues.c[name] for name in _ORDERS[filters.sort]]


def _row(keys: Sequence[ColumnElement[Any]], values: Sequence[Any]) -> Any:
    return tuple_(*(literal(v, type_=k.type) for k, v in zip(keys, values, strict=True)))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Group:
    severity: str
    code: str
    entity: str
    school: str | None
    grade: str | None
    role: str | None
    count: int
    fix: str


def _groups(conn: Connection, where: list[ColumnElement[bool]]) -> list[_Group]:
    """The district's open issues under `where` counted per problem, school, grade and role
    (from an index alone), each with one stored fix of its problem (read by id)."""
    t = validation_issues
    by = [t.c.severity, t.c.code, t.c.entity, t.c.subject_school, t.c.subject_grade]
    by.append(t.c.subject_role)
    counted = list(
        conn.execute(
            select(*by, func.count().label("n"), func.min(t.c.id).label("one"))
            .where(*where)
            .group_by(*by)
        )
    )
    one: dict[tuple[str, str, str], str] = {}
    for r in counted:
        key = (r.severity, r.code, r.entity)
        one[key] = min(one.get(key, r.one), r.one)
    found = select(t.c.id, t.c.fix).where(t.c.id.in_(list(one.values())))
    fixes = {r.id: r.fix for r in conn.execute(found)} if one else {}
    return [
        _Group(
            severity=r.severity,
            code=r.code,
            entity=r.entity,
            school=r.subject_school,
            grade=r.subject_grade,
            role=r.subject_role,
            count=r.n,
            fix=fixes.get(one[(r.severity, r.code, r.entity)], ""),
        )
        for r in counted
    ]


def _searched(
    conn: Connection, where: list[ColumnElement[bool]], fixes: dict[tuple[str, str, str], str]
) -> list[ProblemCount]:
    """The issues under `where` (a search among them) counted per problem; the fixes are those
    `_groups` read."""
    t = validation_issues
    by = [t.c.severity, t.c.code, t.c.entity]
    rows = conn.execute(select(*by, func.count().label("n")).where(*where).group_by(*by))
    return [
        ProblemCount(
            severity=r.severity,
            code=r.code,
            entity=r.entity,
            count=r.n,
            fix=fixes.get((r.severity, r.code, r.entity), ""),
        )
        for r in rows
    ]


def _problems(groups: Sequence[_Group]) -> list[ProblemCount]:
    counted: dict[tuple[str, str, str], int] = defaultdict(int)
    fixes: dict[tuple[str, str, str], str] = {}
    for g in groups:
        key = (g.severity, g.code, g.entity)
        counted[key] += g.count
        fixes[key] = min(fixes.get(key, g.fix), g.fix)
    return [
        ProblemCount(severity=s, code=c, entity=e, count=n, fix=fixes[(s, c, e)])
        for (s, c, e), n in counted.items()
    ]


def _choices(groups: Sequence[_Group]) -> IssueChoices:
    def values(of: Any) -> set[str]:
        return {v for g in groups if (v := of(g))}

    return IssueChoices(
        codes=sorted(values(lambda g: g.code)),
        schools=sorted(values(lambda g: g.school), key=str.casefold),
        grades=sorted(values(lambda g: g.grade), key=grade_order),
        roles=sorted(values(lambda g: g.role)),
    )


def _kept(g: _Group, filters: IssueFilters) -> bool:
    """Whether a group's issues pass the school, grade and role filters."""
    return all(
        not wanted or value == wanted
        for wanted, value in (
            (filters.school, g.school),
            (filters.grade, g.grade),
            (filters.role, g.role),
        )
    )


def _page(
    conn: Connection,
    stmt: Select[Any],
    district_id: str,
    where: list[ColumnElement[bool]],
    keys: list[ColumnElement[Any]],
    seek: IssueSeek | None,
    size: int,
) -> tuple[list[Any], bool]:
    """One page of rows in the order of `keys`; and whether it is the list's last page read
    backwards (then nothing follows it)."""
    forwards = stmt.where(*where).order_by(*(k.asc() for k in keys)).limit(size)
    if seek is None:
        return list(conn.execute(forwards)), False
    backwards = [k.desc() for k in keys]
    if not seek.issue_id:
        rows = list(conn.execute(stmt.where(*where).order_by(*backwards).limit(size)))
        return rows[::-1], True
    t = validation_issues
    found = conn.execute(
        select(*keys).where(t.c.district_id == district_id, t.c.id == seek.issue_id)
    ).first()
    if found is None:  # not an issue of this district (any more): the first page
        return list(conn.execute(forwards)), False
    at = _row(keys, tuple(found))
    if not seek.before:
        return list(conn.execute(forwards.where(tuple_(*keys) > at))), False
    rows = list(
        conn.execute(stmt.where(*where, tuple_(*keys) < at).order_by(*backwards).limit(size))
    )
    if len(rows) < size:  # fewer than a page before it: the first page
        return list(conn.execute(forwards)), False
    return rows[::-1], False


def issue_list(
    conn: Connection,
    district_id: str,
    filters: IssueFilters,
    *,
    audience: Audience,
    seek: IssueSeek | None = None,
    whole: bool = False,
    size: int = PAGE_SIZE,
) -> IssueList:
    """The district's open issues for the page: counts, choices, one page (see `IssueList`).

    Args:
        conn: A connection.
        district_id: The district.
        filters: Problem, school, grade, role, record and order.
        audience: How the district fixes a record, handed through for the page's words.
        seek: Where the page starts (None: the first page). An issue that is not the
            district's starts the first page; a Previous page that would come up short is the
            first page.
        whole: Every issue that matches, in order, without counts or choices (the download).
        size: Issues per page.
    """
    t = validation_issues
    found = _found(conn, district_id, filters.search) if filters.search else None
    where = _matching(district_id, filters, found)
    chosen = [*where, t.c.code == filters.code] if filters.code else where
    keys = _keys(filters)
    names = list(IssueRecord.__dataclass_fields__)
    stmt: Select[Any] = select(*(t.c[n] for n in names), *(k for k in keys if k.name not in names))
    if whole:
        issues = [_record(row) for row in conn.execute(stmt.where(*chosen).order_by(*keys))]
        window = IssueWindow(total=len(issues), skipped=0, shown=len(issues), size=len(issues))
        return IssueList(
            audience=audience, problems=[], choices=IssueChoices(), window=window, issues=issues
        )
    every = _groups(conn, where[:2])
    if filters.search:
        fixes = {(p.severity, p.code, p.entity): p.fix for p in _problems(every)}
        problems = _searched(conn, where, fixes)
    else:
        problems = _problems([g for g in every if _kept(g, filters)])
    # Counted per problem under the other filters; the problem's own narrows it to one group.
    total = sum(p.count for p in problems if not filters.code or p.code == filters.code)
    rows, at_end = (
        _page(conn, stmt, district_id, chosen, keys, seek, size) if total else ([], False)
    )
    if not rows or seek is None:
        skipped = 0
    elif at_end:
        skipped = total - len(rows)
    else:
        ahead = tuple_(*keys) < _row(keys, tuple(rows[0]._mapping[k.name] for k in keys))
        skipped = int(
            conn.execute(select(func.count()).select_from(t).where(*chosen, ahead)).scalar_one()
        )
    window = IssueWindow(
        total=total,
        skipped=skipped,
        shown=len(rows),
        size=size,
        first_id=rows[0].id if rows else "",
        last_id=rows[-1].id if rows else "",
    )
    return IssueList(
        audience=audience,
        problems=problems,
        choices=_choices(every),
        window=window,
        issues=[_record(row) for row in rows],
    )


def _record(row: Any) -> IssueRecord:
    values = row._mapping
    return IssueRecord(**{name: values[name] for name in IssueRecord.__dataclass_fields__})
