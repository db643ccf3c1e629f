"""Clever's redirect back to the portal, and the start of a Clever login from the login page.

`/login/start` (web/app.py) hands a district that signs in through Clever to `start_clever`;
Clever's callback is its own path (`CLEVER_CALLBACK_PATH`), so a ClassLink callback and a Clever
one can never be taken for each other. Both use the same cookies, refusal page and landing as the
ClassLink routes; the login-binding cookie comes from the `LoginBinding` gate (web/gates.py).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from rostersync.errors import ConfigError, RosterSyncError
from rostersync.refusals import record_refusal
from rostersync.services import Services
from rostersync.signin.clever import clever_failure
from rostersync.signin.clever_portal import CLEVER_CALLBACK_PATH
from rostersync.signin.oidc import SignInRefused
from rostersync.signin.portal import Restart
from rostersync.web.cookies import Cookies
from rostersync.web.gates import LoginBinding
from rostersync.web.landing import STAFF_HOMES, landing

HERE = Path(__file__).parent
_templates = Jinja2Templates(directory=HERE / "templates")


def refused_page(service: Services, request: Request, exc: SignInRefused) -> HTMLResponse:
    """The sign-in refusal page, logged under the reference it shows."""
    record_refusal(exc, service.settings)
    return _templates.TemplateResponse(
        request,
        "refused.html",
        {"title": exc.title, "message": str(exc), "ref": exc.reason, "reference": exc.reference},
        status_code=403,
    )


def start_clever(
    service: Services, request: Request, district_id: str, binding: str, next_path: str
) -> Response:
    """Send the browser to Clever for this district, bound to this browser's login cookie."""
    cookies = Cookies.of(service.settings)
    try:
        url = service.clever_signin.begin_sign_in(
            district_id=district_id, binding=binding, next_path=next_path
        )
    except SignInRefused as exc:
        return refused_page(service, request, exc)
    except ConfigError:
        return refused_page(service, request, clever_failure("sso_not_configured"))
    response = RedirectResponse(url, status_code=303)
    cookies.set(response, cookies.login, binding, max_age=3600)
    return response


def create_clever_signin_router(service: Services) -> APIRouter:
    """The Clever callback route."""
    router = APIRouter()
    cookies = Cookies.of(service.settings)

    @router.get(CLEVER_CALLBACK_PATH)
    def clever_callback(
        request: Request,
        binding: LoginBinding,
        code: Annotated[str, Query(max_length=2000)] = "",
        state: Annotated[str | None, Query(max_length=200)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        if error:
            return refused_page(
                service,
                request,
                SignInRefused(
                    "Clever did not sign you in (you may have cancelled). Go back to the login "
                    "page to try again.",
                    reason="clever_error",
                ),
            )
        if not code:
            return refused_page(service, request, clever_failure("callback_without_code"))
        try:
            outcome = service.clever_signin.finish_sign_in(
                code=code,
                state=state,
                binding=binding,
                previous_session=request.cookies.get(cookies.session),
            )
        except SignInRefused as exc:
            return refused_page(service, request, exc)
        except RosterSyncError:
            return refused_page(service, request, clever_failure("sso_not_configured"))
        if isinstance(outcome, Restart):
            response = RedirectResponse(outcome.url, status_code=303)
            cookies.set(response, cookies.login, binding, max_age=3600)
            return response
        target = outcome.next_path
        if target in STAFF_HOMES:
            target = landing(service, service.staff.viewer(outcome.session_token), target)
        response = RedirectResponse(target, status_code=303)
        cookies.set(response, cookies.session, outcome.session_token, cookies.max_age)
        return response

    return router


__all__ = ["create_clever_signin_router", "refused_page", "start_clever"]
