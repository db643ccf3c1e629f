"""A district's open issues: the list, its download, and Revalidate.

Gates (`web/gates.py`): `Staff`, then `DistrictInScope`; Revalidate, a POST, adds `FormCsrf`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rostersync.notify.csvfile import MEDIA_TYPE as CSV_TYPE
from rostersync.notify.csvfile import issues_csv_file
from rostersync.services import Services
from rostersync.web.gates import DistrictInScope, FormCsrf, Staff
from rostersync.web.pages import MESSAGES, act, page_route, render


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

    def filtered(district_id: str, code: str, sourced_id: str) -> list[Any]:
        # The record: its ClassLink sourcedId or student ID exactly, or part of its name.
        name = sourced_id.casefold()
        return [
            i
            for i in service.runs.open_issues(district_id)
            if (not code or i.code == code)
            and (
                not sourced_id
                or sourced_id in (i.sourced_id, i.subject_student_id)
                or name in (i.subject_name or "").casefold()
            )
        ]

    Code = Annotated[str, Query(max_length=64)]
    SourcedId = Annotated[str, Query(max_length=255)]

    @router.get("/admin/districts/{slug}/issues", response_class=HTMLResponse)
    def issues(
        request: Request,
        staff: Staff,
        found: DistrictInScope,
        code: Code = "",
        sourced_id: SourcedId = "",
        done: str = "",
    ) -> Any:
        district = found[0]
        every = service.runs.open_issues(district.id)
        return render(
            templates,
            request,
            "admin_issues.html",
            district=district,
            issues=filtered(district.id, code, sourced_id.strip()),
            codes=sorted({i.code for i in every}),
            code=code,
            sourced_id=sourced_id,
            message=MESSAGES.get(done, ""),
            staff=staff,
        )

    @router.get("/admin/districts/{slug}/issues.csv")
    def issues_download(
        staff: Staff, found: DistrictInScope, code: Code = "", sourced_id: SourcedId = ""
    ) -> Response:
        district = found[0]
        body = issues_csv_file(filtered(district.id, code, sourced_id.strip()))
        return Response(
            body,
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
