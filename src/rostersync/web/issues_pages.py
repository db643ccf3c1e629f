"""A district's open issues: grouped by problem to work through, the list, its download, and
Revalidate.

The page counts the open issues per problem in plain words, errors apart from warnings, each
with one fix in the words of the district's source (`domain.issue_groups`); below, the issues
themselves, filtered by problem, school, grade, role and record (combined), ordered by problem,
name or school, fifty a page with the total stated, paged by keyset (First, Previous, Next and
Last links, each keeping the filters). The download carries the same filters and order, every
matching issue. Filtering, ordering and paging are SQL (`store.issue_lists`, through
`Runs.issue_list`).

Gates (`web/gates.py`): `Staff`, then `DistrictInScope`; Revalidate, a POST, adds `FormCsrf`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rostersync.domain.issue_groups import (
    SORTS,
    Audience,
    IssueFilters,
    IssueGroup,
    group_problems,
    problem_fix,
    problem_label,
    source_message,
)
from rostersync.notify.csvfile import MEDIA_TYPE as CSV_TYPE
from rostersync.notify.csvfile import issues_csv_file
from rostersync.services import Services
from rostersync.store.issue_lists import IssueSeek
from rostersync.store.runs import IssueRecord
from rostersync.web.gates import DistrictInScope, FormCsrf, Staff
from rostersync.web.pages import MESSAGES, act, page_route, render
from rostersync.web.paging import CursorParam, encode_cursor, page_seek

# The page's cursors (`web.paging`): the id of the issue a page starts after (or ends before);
# "" with `before` is the list's last page. An id says where, never who: no name in a link.
LIST_NAME = "issue-list"
CURSOR_SHAPE = ("str",)

# How a district fixes a record, said once above its problems.
SOURCE_WORDS = {
    Audience.CLASSLINK: (
        "{district} gets its roster from ClassLink: each fix is made in the district's SIS (or "
        "in ClassLink), and the next sync picks it up. Revalidate reads the roster again now."
    ),
    Audience.FILES: (
        "{district} pushes OneRoster files: each fix is made in the files, and the sync of the "
        "next push picks it up. Revalidate checks the last pushed files again."
    ),
}


def source_words(audience: Audience, district: str) -> str:
    """How the district fixes a record, said once above its problems, in its source's name."""
    words = SOURCE_WORDS[Audience.FILES if audience.files else Audience.CLASSLINK]
    return source_message(words, audience).format(district=district)


@dataclass(frozen=True, slots=True)
class IssueRow:
    """One issue as a row of the list: the issue, and its message and fix in the district's
    words."""

    issue: IssueRecord
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class GroupLink:
    """One problem as the page lists it, with the link to its issues (filters kept)."""

    group: IssueGroup
    url: str
    current: bool


def create_issues_router(service: Services) -> APIRouter:
    """The issues pages over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    from rostersync.web.presentation import admin_templates

    templates = admin_templates()
    router = APIRouter(route_class=page_route(templates))

    Code = Annotated[str, Query(max_length=64)]
    Value = Annotated[str, Query(max_length=255)]
    Sort = Annotated[str, Query(max_length=16)]

    def link(slug: str, filters: IssueFilters, path: str = "issues", cursor: str = "") -> str:
        params = filters.params()
        query = urlencode({**params, "cursor": cursor} if cursor else params)
        return f"/admin/districts/{slug}/{path}" + (f"?{query}" if query else "")

    @router.get("/admin/districts/{slug}/issues", response_class=HTMLResponse)
    def issues(
        request: Request,
        staff: Staff,
        found: DistrictInScope,
        code: Code = "",
        sourced_id: Value = "",
        school: Value = "",
        grade: Value = "",
        role: Value = "",
        sort: Sort = "",
        cursor: CursorParam = "",
        done: str = "",
    ) -> Any:
        district = found[0]
        filters = IssueFilters.of(
            code=code, school=school, grade=grade, role=role, search=sourced_id, sort=sort
        )
        first_url = link(district.slug, filters)
        seek = page_seek(cursor, LIST_NAME, CURSOR_SHAPE, first_url)
        listing = service.runs.issue_list(
            district.id, filters, seek=IssueSeek(str(seek.key[0]), seek.before) if seek else None
        )
        window = listing.window

        def at(issue_id: str, *, before: bool = False) -> str:
            return link(
                district.slug, filters, cursor=encode_cursor(LIST_NAME, [issue_id], before=before)
            )

        groups = [
            GroupLink(g, link(district.slug, filters.but(code=g.code)), g.code == filters.code)
            for g in group_problems(listing.problems, listing.audience)
        ]
        return render(
            templates,
            request,
            "admin_issues.html",
            district=district,
            source_words=source_words(listing.audience, district.display_name),
            id_label=listing.audience.id_label,
            errors=[g for g in groups if g.group.severity == "error"],
            warnings=[g for g in groups if g.group.severity != "error"],
            rows=[
                IssueRow(
                    i,
                    source_message(i.message, listing.audience),
                    problem_fix(i.code, [i.entity], listing.audience, i.fix),
                )
                for i in listing.issues
            ],
            window=window,
            filters=filters,
            choices=listing.choices,
            problem_label=problem_label,
            sorts=SORTS,
            all_problems_url=link(district.slug, filters.but(code="")),
            clear_url=link(district.slug, IssueFilters(sort=filters.sort)),
            csv_url=link(district.slug, filters, "issues.csv"),
            previous_url=at(window.first_id, before=True) if window.has_previous else "",
            next_url=at(window.last_id) if window.has_next else "",
            first_url=first_url,
            # The last page, read backwards from the end of the list.
            last_url=at("", before=True),
            message=MESSAGES.get(done, ""),
            staff=staff,
        )

    @router.get("/admin/districts/{slug}/issues.csv")
    def issues_download(
        staff: Staff,
        found: DistrictInScope,
        code: Code = "",
        sourced_id: Value = "",
        school: Value = "",
        grade: Value = "",
        role: Value = "",
        sort: Sort = "",
    ) -> Response:
        district = found[0]
        filters = IssueFilters.of(
            code=code, school=school, grade=grade, role=role, search=sourced_id, sort=sort
        )
        listing = service.runs.issue_list(district.id, filters, whole=True)
        audience = listing.audience
        return Response(
            # The fix in the words of the district's source, as the page says it.
            issues_csv_file(
                listing.issues,
                fix=lambda i: problem_fix(i.code, [i.entity], audience, i.fix),
                message=lambda i: source_message(i.message, audience),
            ),
            media_type=CSV_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="{district.slug}-open-issues.csv"'
            },
        )

    @router.post("/admin/districts/{slug}/revalidate")
    def revalidate(found: DistrictInScope, staff: FormCsrf) -> Any:
        district = found[0]
        act(lambda: service.runs.revalidate(district.id))
        return RedirectResponse(
            f"/admin/districts/{district.slug}/issues?done=revalidated", status_code=303
        )

    return router


__all__ = ["create_issues_router"]
