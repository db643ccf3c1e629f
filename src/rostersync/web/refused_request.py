"""The page a browser gets when a link or form fails validation (too long, missing, malformed).

FastAPI answers such a request with a 422 JSON body that echoes what was sent: a ClassLink
callback with an over-long `code`, say, would show the person raw JSON holding their own input.
The portal's pages instead get this refusal page: which field, where, what is wrong with it and
what to do, and never the value itself. The JSON API keeps JSON errors (web/api.py), also
without the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

# Pages under these paths are the staff portal's: they get its error page and its way back.
STAFF_PREFIXES = ("/admin", "/staff")
WHERE = {
    "query": "in the address",
    "path": "in the address",
    "body": "in the form",
    "header": "in a request header",
    "cookie": "in a cookie",
}
MAX_LISTED = 3


def describe(errors: Sequence[Any]) -> str:
    """The failed fields, each with where it was and what is wrong: never the value sent."""
    parts = []
    for error in list(errors)[:MAX_LISTED]:
        loc = [str(p) for p in error.get("loc", ())]
        where = WHERE.get(loc[0], "in the request") if loc else "in the request"
        name = loc[-1][:40] if len(loc) > 1 else "a value"
        parts.append(f"`{name}` {where} ({str(error.get('msg', 'not valid'))[:120]})")
    more = len(errors) - MAX_LISTED
    listed = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return listed or "a value in the request is not valid"


def invalid_request_page(
    templates: Jinja2Templates, request: Request, exc: RequestValidationError
) -> HTMLResponse:
    """A 400 refusal page for a request whose parameters failed validation."""
    problem = describe(exc.errors())
    if request.url.path.startswith(STAFF_PREFIXES):
        return templates.TemplateResponse(
            request,
            "admin_error.html",
            {
                "title": "This request could not be used",
                "message": f"A value this page cannot take: {problem}. Go back, reload the "
                "page and try again; a link you were given may have been cut or changed.",
                "staff": None,
            },
            status_code=400,
        )
    return templates.TemplateResponse(
        request,
        "refused.html",
        {
            "title": "This link could not be used",
            "message": f"A value this page cannot take: {problem}. Go back to the login page "
            "and sign in again; a link you were given may have been cut or changed.",
            "ref": "invalid_request",
        },
        status_code=400,
    )


__all__ = ["describe", "invalid_request_page"]
