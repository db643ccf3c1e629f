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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from rostersync.domain.issue_groups import Audience, problem_fix, source_message
from rostersync.errors import NotFoundError
from rostersync.providers import PROVIDERS
from rostersync.services import PUSH_SOURCE_KIND, Services
from rostersync.store.people_search import Found, PeopleSeek, PersonHit
from rostersync.web.gates import DistrictInScope, DistrictScope, Staff, not_found
from rostersync.web.pages import page_route, render
from rostersync.web.paging import CursorParam, encode_cursor, page_seek
from rostersync.web.presentation import admin_templates
from rostersync.web.record_links import change_words, eligibility_words, record_url

SearchText = Annotated[str, Query(max_length=255)]
# What the roster sends of a record that a page shows, per kind of page: the record's field, the
# issue's `subject_*` column that keeps it as sent, and its label; and the issues that are about it.
_SENT_FIELDS = {
    "person": (
        ("name", "name", "Name"),
        ("student_id", "student_id", "Student ID"),
        ("grade", "grade", "Grade"),
        ("school", "school", "School"),
    ),
    "class": (("title", "name", "Title"), ("code", "code", "Code"), ("school", "school", "School")),
}
_SENT_ENTITIES = {
    "person": frozenset({"student", "educator", "user"}),
    "class": frozenset({"class"}),
}


@dataclass(frozen=True, slots=True)
class SentValue:
    """One value of a person that the roster last sent differently from what the portal holds."""

    label: str
    held: str
    sent: str


def sent_differently(record: Any, issues: Sequence[Any], page: str = "person") -> list[SentValue]:
    """What the roster last sent for a provisioned person or class (`page`) whose update is
    held, where it differs from the portal's values: read from the record's open issues, which
    keep it as the roster sent it. Empty when nothing differs or no issue says."""
    sent = next(
        (
            i
            for i in issues
            if i.entity in _SENT_ENTITIES[page] and i.sourced_id == record.sourced_id
        ),
        None,
    )
    if sent is None or record.held:
        return []
    found = []
    for field, column, label in _SENT_FIELDS[page]:
        value = getattr(sent, f"subject_{column}") or ""
        held = getattr(record, field, "") or ""
        if value and value != held:
            found.append(SentValue(label, held, value))
    return found


# The people's pages of a search (`web.paging`): a cursor names a person by kind and sourcedId
# (or portal id), never by name.
PEOPLE_LIST = "people"
PEOPLE_CURSOR = ("str", "str")


@dataclass(frozen=True, slots=True)
class PeopleLinks:
    """The links of a page of people found: Next and Previous ("" when there is none) and the
    first page, each keeping the search."""

    next_url: str
    previous_url: str
    first_url: str


def people_links(found: Found[PersonHit], path: str, text: str) -> PeopleLinks:
    """The Next, Previous and first-page links of a page of people found for `text`."""

    def url(hit: PersonHit | None, before: bool = False) -> str:
        params = {"q": text}
        if hit is not None:
            ref = hit.sourced_id or hit.portal_id or ""
            params["cursor"] = encode_cursor(PEOPLE_LIST, [hit.kind, ref], before=before)
        return f"{path}?{urlencode(params)}"

    rows = found.rows
    return PeopleLinks(
        next_url=url(rows[-1]) if found.has_next else "",
        previous_url=url(rows[0], before=True) if found.has_previous else "",
        first_url=url(None),
    )


def issue_words(audience: Audience) -> dict[str, Any]:
    """An issue's message and fix in the words of the district's source, for a template, with
    what the source (`source`, "ClassLink" or "Clever") and a record's id there (`id_label`)
    are called."""
    return {
        "issue_message": lambda i: source_message(i.message, audience),
        "issue_fix": lambda i: problem_fix(i.code, [i.entity], audience, i.fix),
        "source": audience.source,
        "id_label": audience.id_label,
    }


def run_label(found: DistrictScope) -> str:
    """What the district's sync runs are called: they pull from its source (ClassLink, Clever),
    or take pushed files."""
    if found.integration.source_kind == PUSH_SOURCE_KIND:
        return "Roster file sync run"
    return f"{PROVIDERS.audience(found.integration.source_kind).source} sync run"


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
    def search(
        request: Request,
        staff: Staff,
        found: DistrictInScope,
        q: SearchText = "",
        cursor: CursorParam = "",
    ) -> Any:
        district = found.district
        path = f"/admin/districts/{district.slug}/search"
        first_url = f"{path}?{urlencode({'q': q})}"
        seek = page_seek(cursor, PEOPLE_LIST, PEOPLE_CURSOR, first_url)
        after = None
        if seek is not None:
            kind, ref = seek.key
            after = PeopleSeek(kind, ref, before=seek.before)
        results = service.records.search(district.id, q, people_after=after)
        return render(
            templates,
            request,
            "admin_search.html",
            district=district,
            q=q,
            results=results,
            people_links=people_links(results.people, path, results.text),
            staff=staff,
        )

    @router.get("/admin/districts/{slug}/people/{sourced_id:path}", response_class=HTMLResponse)
    def person(request: Request, staff: Staff, found: DistrictInScope, sourced_id: str) -> Any:
        district = found.district
        record = read(service.records.person, district.id, sourced_id)
        audience = PROVIDERS.audience(found.integration.source_kind)
        return render(
            templates,
            request,
            "admin_record_person.html",
            district=district,
            record=record,
            sent=sent_differently(record.person, record.page.issues),
            pushed=audience.files,
            run_label=run_label(found),
            staff=staff,
            **issue_words(audience),
        )

    @router.get("/admin/districts/{slug}/classes/{sourced_id:path}", response_class=HTMLResponse)
    def school_class(
        request: Request, staff: Staff, found: DistrictInScope, sourced_id: str
    ) -> Any:
        district = found.district
        record = read(service.records.school_class, district.id, sourced_id)
        return render(
            templates,
            request,
            "admin_record_class.html",
            district=district,
            record=record,
            sent=sent_differently(record.record, record.page.issues, "class"),
            pushed=found.integration.source_kind == PUSH_SOURCE_KIND,
            run_label=run_label(found),
            staff=staff,
            **issue_words(PROVIDERS.audience(found.integration.source_kind)),
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
            pushed=found.integration.source_kind == PUSH_SOURCE_KIND,
            run_label=run_label(found),
            staff=staff,
            **issue_words(PROVIDERS.audience(found.integration.source_kind)),
        )

    return router


__all__ = ["SentValue", "create_records_router", "issue_words", "run_label", "sent_differently"]
