"""What every admin page shares: its route class, its error page, its notices, its actions.

A route raises `PageError` (or a gate does, `web/gates.py`); the route class renders it as a
redirect, a refusal page with a reference, or an error page. `act` turns a workflow failure the
person can act on (its message says how) into a 409 page.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from rostersync.errors import (
    ConfigError,
    RunNotPending,
    SourceChanged,
    SourceError,
    SyncInProgress,
)
from rostersync.web.gates import PageError

T = TypeVar("T")

MESSAGES = {
    "approved": "Approved: the plan was applied. This is the run that applied it.",
    "discarded": "Discarded: nothing was changed.",
    "previewed": "Preview ready: review the counts, then approve or discard it.",
    "revalidated": "Revalidated: fixed records were provisioned and their issues closed.",
    "started": "Started: this page follows the run, and shows its counts when it ends.",
    "ended": "The run ended: its status and counts are below.",
}
# Failures of a workflow action that the person can act on; their messages say how.
ACTION_ERRORS = (RunNotPending, SourceChanged, SyncInProgress, SourceError, ConfigError)


def page_error_response(templates: Jinja2Templates, request: Request, exc: PageError) -> Response:
    """A `PageError` as its redirect, its sign-in refusal page (with a `ref`) or its error page."""
    if exc.location:
        return RedirectResponse(exc.location, status_code=303)
    if exc.ref:
        context = {"title": exc.title, "message": exc.message, "ref": exc.ref}
        return templates.TemplateResponse(request, "refused.html", context, status_code=exc.status)
    return templates.TemplateResponse(
        request,
        "admin_error.html",
        {"title": exc.title, "message": exc.message, "staff": None},
        status_code=exc.status,
    )


def page_route(templates: Jinja2Templates) -> type[APIRoute]:
    class AdminRoute(APIRoute):
        """Renders a `PageError` (raised by a route or a dependency) as a redirect or a page."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def run(request: Request) -> Response:
                try:
                    return await handler(request)
                except PageError as exc:
                    return page_error_response(templates, request, exc)

            return run

    return AdminRoute


def act(action: Callable[[], T]) -> T:
    """Run a workflow action; a failure the person can act on becomes a 409 page saying how."""
    try:
        return action()
    except ACTION_ERRORS as exc:
        raise PageError(status=409, title="Not done", message=str(exc)) from None


def render(
    templates: Jinja2Templates, request: Request, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """One template as a page."""
    return templates.TemplateResponse(request, name, context, status_code=status)
