"""A district's open issues as the issues page lists them: filtered, ordered and paged in SQL.

Every read is one set-based SELECT over `validation_issues` (never one per issue): the count per
problem, the values each filter offers, how many issues match, and one page of them (or all of
them, for the download). A record is found by its sourcedId or student ID exactly, or by part of
its name without regard to case: PostgreSQL's `lower`, and on SQLite, whose `lower` knows only
ASCII ("MÜLLER"), Python's `str.casefold` registered on the connection as `rostersync_fold`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, String, case, func, literal, or_, select
from sqlalchemy.engine import Connection

from rostersync.domain.issue_groups import (
    PAGE_SIZE,
    Audience,
    IssueFilters,
    PageWindow,
    ProblemCount,
    grade_order,
    page_window,
)
from rostersync.store.runs import IssueRecord
from rostersync.store.tables import validation_issues

__all__ = ["IssueChoices", "IssueList", "issue_list"]

_FOLD = "rostersync_fold"

Fold = Callable[[ColumnElement[Any]], ColumnElement[Any]]


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
    window: PageWindow
    issues: list[IssueRecord]


def _folder(conn: Connection) -> tuple[Fold, Callable[[str], str]]:
    """How this database folds case, for a column and for the term compared with it."""
    if conn.dialect.name != "sqlite":
        return (lambda column: func.lower(column)), str.lower
    driver = conn.connection.driver_connection
    if driver is not None:
        driver.create_function(_FOLD, 1, _casefold, deterministic=True)
    return (lambda column: getattr(func, _FOLD)(column, type_=String)), str.casefold


def _casefold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None


def _matching(
    district_id: str, filters: IssueFilters, fold: Fold, fold_term: Callable[[str], str]
) -> list[ColumnElement[bool]]:
    """The conditions of every filter but the problem's (`code`)."""
    t = validation_issues
    where: list[ColumnElement[bool]] = [t.c.district_id == district_id, t.c.status == "open"]
    for value, column in (
        (filters.school, t.c.subject_school),
        (filters.grade, t.c.subject_grade),
        (filters.role, t.c.subject_role),
    ):
        if value:
            where.append(column == value)
    if filters.search:
        where.append(
            or_(
                t.c.sourced_id == filters.search,
                t.c.subject_student_id == filters.search,
                fold(t.c.subject_name).contains(fold_term(filters.search), autoescape=True),
            )
        )
    return where


def _order(filters: IssueFilters, fold: Fold) -> list[ColumnElement[Any]]:
    """The page's order: by problem (errors first), by name or by school; records nobody named
    (or at no known school) after the named ones, the sourcedId last so pages never overlap."""
    t = validation_issues
    blank = literal("", String)
    unnamed = case((func.coalesce(t.c.subject_name, blank) == blank, 1), else_=0)
    no_school = case((func.coalesce(t.c.subject_school, blank) == blank, 1), else_=0)
    name = fold(func.coalesce(t.c.subject_name, blank))
    school = fold(func.coalesce(t.c.subject_school, blank))
    problem = [(t.c.severity != "error"), t.c.code]
    tail = [t.c.entity, t.c.sourced_id, t.c.field, t.c.id]
    if filters.sort == "name":
        return [unnamed, name, *problem, *tail]
    if filters.sort == "school":
        return [no_school, school, unnamed, name, *problem, *tail]
    return [*problem, unnamed, name, *tail]


def _distinct(conn: Connection, column: ColumnElement[Any], where: list[Any]) -> list[str]:
    stmt = select(column).where(*where, column.is_not(None), column != "").distinct()
    return [row[0] for row in conn.execute(stmt)]


def issue_list(
    conn: Connection,
    district_id: str,
    filters: IssueFilters,
    *,
    audience: Audience,
    whole: bool = False,
    size: int = PAGE_SIZE,
) -> IssueList:
    """The district's open issues for the page: counts, choices, one page (see `IssueList`).

    Args:
        conn: A connection.
        district_id: The district.
        filters: Problem, school, grade, role, record, order and page; a page past the last
            shows the last.
        audience: How the district fixes a record, handed through for the page's words.
        whole: Every issue that matches, in order, without counts or choices (the download).
        size: Issues per page.
    """
    t = validation_issues
    fold, fold_term = _folder(conn)
    where = _matching(district_id, filters, fold, fold_term)
    chosen = [*where, t.c.code == filters.code] if filters.code else where
    columns = [t.c[name] for name in IssueRecord.__dataclass_fields__]
    stmt: Select[Any] = select(*columns).where(*chosen).order_by(*_order(filters, fold))
    if whole:
        issues = [IssueRecord(**row._mapping) for row in conn.execute(stmt)]
        window = page_window(len(issues), 1, max(1, len(issues)))
        return IssueList(
            audience=audience, problems=[], choices=IssueChoices(), window=window, issues=issues
        )
    problems = [
        ProblemCount(
            severity=row.severity, code=row.code, entity=row.entity, count=row.n, fix=row.fix
        )
        for row in conn.execute(
            select(
                t.c.severity,
                t.c.code,
                t.c.entity,
                func.count().label("n"),
                func.min(t.c.fix).label("fix"),
            )
            .where(*where)
            .group_by(t.c.severity, t.c.code, t.c.entity)
        )
    ]
    # Counted per problem under the other filters; the problem's own narrows it to one group.
    total = sum(p.count for p in problems if not filters.code or p.code == filters.code)
    window = page_window(total, filters.page, size)
    page = list(conn.execute(stmt.limit(window.size).offset(window.offset))) if total else []
    every = [t.c.district_id == district_id, t.c.status == "open"]
    choices = IssueChoices(
        codes=sorted(_distinct(conn, t.c.code, every)),
        schools=sorted(_distinct(conn, t.c.subject_school, every), key=str.casefold),
        grades=sorted(_distinct(conn, t.c.subject_grade, every), key=grade_order),
        roles=sorted(_distinct(conn, t.c.subject_role, every)),
    )
    return IssueList(
        audience=audience,
        problems=problems,
        choices=choices,
        window=window,
        issues=[IssueRecord(**row._mapping) for row in page],
    )
