"""A district's own page: what it is, how it is connected, and its recent runs.

Gates (`web/gates.py`): `Staff`, then `DistrictInScope` (else the same 404 page for a district
that does not exist and one the staff member may not see).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from rostersync.services import Services
from rostersync.web.gates import DistrictInScope, Staff
from rostersync.web.pages import MESSAGES, page_route, render


def create_district_router(service: Services) -> APIRouter:
    """The district page over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    from rostersync.web.presentation import admin_templates

    templates = admin_templates()
    router = APIRouter(route_class=page_route(templates))

    @router.get("/admin/districts/{slug}", response_class=HTMLResponse)
    def district(request: Request, staff: Staff, found: DistrictInScope, done: str = "") -> Any:
        district, integration = found
        return render(
            templates,
            request,
            "admin_district.html",
            district=district,
            integration=integration,
            runs=service.runs.recent(district.id, limit=50),
            message=MESSAGES.get(done, ""),
            staff=staff,
        )

    return router


__all__ = ["create_district_router"]
