"""Personal API tokens: create (shown once), list with last use, revoke.

    GET  /admin/api-tokens                    the signed-in person's tokens, and the form
    POST /admin/api-tokens                    make one: the page shows the whole token this once
    POST /admin/api-tokens/revoke             revoke one of one's own tokens (its id in the form)

Gates (`web/gates.py`): `Staff` for the page, `FormCsrf` for both forms. Each person sees and
revokes only their own tokens; the rules (label, how many, who may make one) are in
`staff/api_tokens.py`, which also audits making and revoking. The new token is in the answer to
the POST itself, never in an address or a redirect, and like every page it is sent with
`Cache-Control: no-store`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rostersync.errors import ConfigError, NotFoundError
from rostersync.services import Services
from rostersync.staff.api_tokens import ApiTokens, NewApiToken
from rostersync.staff.models import StaffViewer
from rostersync.web.gates import FormCsrf, PageError, Staff
from rostersync.web.pages import page_route, render
from rostersync.web.presentation import admin_templates

PAGE = "/admin/api-tokens"
MESSAGES = {"revoked": "Revoked: the token is refused from now on."}


def create_api_tokens_router(service: Services) -> APIRouter:
    """The API tokens page over one service.

    Args:
        service: The service API every route calls (its database holds the tokens).

    Returns:
        A router to include in the portal's app.
    """
    templates = admin_templates()
    router = APIRouter(route_class=page_route(templates))
    tokens = ApiTokens(service.engine)
    base_url = service.settings.portal_base_url.rstrip("/")

    def tokens_page(
        request: Request,
        staff: StaffViewer,
        *,
        status: int = 200,
        created: NewApiToken | None = None,
        message: str = "",
        error: str = "",
    ) -> HTMLResponse:
        return render(
            templates,
            request,
            "admin_api_tokens.html",
            status,
            staff=staff,
            tokens=tokens.list_tokens(staff),
            created=created,
            message=message,
            error=error,
            base_url=base_url,
        )

    @router.get(PAGE, response_class=HTMLResponse)
    def api_tokens(request: Request, staff: Staff, done: str = "") -> Any:
        return tokens_page(request, staff, message=MESSAGES.get(done, ""))

    @router.post(PAGE, response_class=HTMLResponse)
    def create_token(
        request: Request, staff: FormCsrf, label: Annotated[str, Form(max_length=500)] = ""
    ) -> Any:
        try:
            created = tokens.create(staff, label)
        except ConfigError as exc:
            return tokens_page(request, staff, status=400, error=f"Not made: {exc}.")
        return tokens_page(request, staff, status=201, created=created)

    @router.post(PAGE + "/revoke")
    def revoke_token(staff: FormCsrf, token: Annotated[str, Form(max_length=36)] = "") -> Any:
        try:
            tokens.revoke(staff, token)
        except NotFoundError as exc:
            raise PageError(title="Not revoked", message=f"Not revoked: {exc}.") from None
        return RedirectResponse(f"{PAGE}?done=revoked", status_code=303)

    return router


__all__ = ["create_api_tokens_router"]
