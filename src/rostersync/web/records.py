"""Search people, classes and schools, and a page per record.

    /admin/districts/{slug}/search?q=…             people, classes and schools that match
    /admin/districts/{slug}/people/{sourced_id}    a student or educator (made by hand: portal id)
    /admin/districts/{slug}/classes/{sourced_id}   a class, with its teachers and students
    /admin/districts/{slug}/schools/{sourced_id}   a school, with its classes

Gates (`web/gates.py`): `Staff`, then `DistrictInScope`; a record of another district, or one
that does not exist, is the same 404 page as a district that is not the staff member's. Every
page only reads (`services.records`). Records link to each other with `record_url`
(`web/record_links.py`), which other admin templates may register too.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from rostersync.errors import NotFoundError
from rostersync.services import PUSH_SOURCE_KIND, Services
from rostersync.web.gates import DistrictInScope, DistrictScope, Staff, not_found
from rostersync.web.pages import page_route, render
from rostersync.web.presentation import admin_templates
from rostersync.web.record_links import change_words, eligibility_words, record_url

SearchText = Annotated[str, Query(max_length=255)]


def run_label(found: DistrictScope) -> str:
    """What the district's sync runs are called: they pull from ClassLink, or take pushed files."""
    if found.integration.source_kind == PUSH_SOURCE_KIND:
        return "Roster file sync run"
    return "ClassLink sync run"


def create_records_router(service: Services) -> APIRouter:
    """The search and record pages over one service, to include in the portal's app."""
    templates = admin_templates()
    templates.env.globals.update(
        record_url=record_url, change_words=change_words, eligibility_words=eligibility_words
    )
    router = APIRouter(route_class=page_route(templates))

    def read(lookup: Callable[[str, str], Any], district_id: str, ref: str) -> Any:
        try:
            return lookup(district_id, ref)
        except NotFoundError:
            raise not_found() from None

    @router.get("/admin/districts/{slug}/search", response_class=HTMLResponse)
    def search(request: Request, staff: Staff, found: DistrictInScope, q: SearchText = "") -> Any:
        district = found.district
        return render(
            templates,
            request,
            "admin_search.html",
            district=district,
            q=q,
            results=service.records.search(district.id, q),
            staff=staff,
        )

    @router.get("/admin/districts/{slug}/people/{sourced_id:path}", response_class=HTMLResponse)
    def person(request: Request, staff: Staff, found: DistrictInScope, sourced_id: str) -> Any:
        district = found.district
        return render(
            templates,
            request,
            "admin_record_person.html",
            district=district,
            record=read(service.records.person, district.id, sourced_id),
            run_label=run_label(found),
            staff=staff,
        )

    @router.get("/admin/districts/{slug}/classes/{sourced_id:path}", response_class=HTMLResponse)
    def school_class(
        request: Request, staff: Staff, found: DistrictInScope, sourced_id: str
    ) -> Any:
        district = found.district
        return render(
            templates,
            request,
            "admin_record_class.html",
            district=district,
            record=read(service.records.school_class, district.id, sourced_id),
            run_label=run_label(found),
            staff=staff,
        )

    @router.get("/admin/districts/{slug}/schools/{sourced_id:path}", response_class=HTMLResponse)
    def school(request: Request, staff: Staff, found: DistrictInScope, sourced_id: str) -> Any:
        district = found.district
        return render(
            templates,
            request,
            "admin_record_school.html",
            district=district,
            record=read(service.records.school, district.id, sourced_id),
            run_label=run_label(found),
            staff=staff,
        )

    return router


__all__ = ["create_records_router", "run_label"]
