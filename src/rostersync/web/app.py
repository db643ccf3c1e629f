"""The Educator Portal's web app: the login page, the ClassLink callback; the Clever callback is
web/clever_signin.py's, the home pages are web/educator_pages.py's.

Routes are thin: read the request, call the service, render a template. Cookies:

    session   the signed-in session's random token (the table keeps its hash)
    login     a random per-browser value that binds each started login to this browser, so a
              callback link made in another browser cannot sign this one in (login CSRF)

Both are `HttpOnly; SameSite=Lax; Path=/` and, unless `session_cookie_secure` is off (plain-http
loopback tests and the demo), `Secure` with the `__Host-` prefix. `Lax`, not `Strict`: ClassLink's
redirect back is a cross-site top-level navigation that must carry the login cookie.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from rostersync.errors import ConfigError, RosterSyncError
from rostersync.refusals import record_refusal
from rostersync.services import Services
from rostersync.signin.oidc import SignInRefused, protocol_failure
from rostersync.signin.paths import safe_next_path
from rostersync.signin.portal import Restart
from rostersync.web.clever_signin import create_clever_signin_router, start_clever
from rostersync.web.cookies import Cookies as _Cookies
from rostersync.web.gates import LoginBinding, PageError, SignedInViewer, serve
from rostersync.web.landing import STAFF_HOMES, landing
from rostersync.web.pages import page_error_response
from rostersync.web.refused_request import invalid_request_page
from rostersync.web.security_headers import HeadedApp

HERE = Path(__file__).parent
MAX_FILTER = 100


def create_app(service: Services) -> FastAPI:
    """Build the portal's FastAPI app over one service.

    Args:
        service: The service API every route calls.

    Returns:
        The ASGI app (serve it with uvicorn: `rostersync serve`).
    """
    settings = service.settings
    cookies = _Cookies(settings.session_cookie_secure, settings.session_max_age_seconds)
    templates = Jinja2Templates(directory=HERE / "templates")
    # Every answer, the rate limits' 429 and the 500 page included, gets the security headers.
    app = HeadedApp(
        # The login form's redirect goes on to ClassLink or to Clever (CSP form-action).
        form_action=f"{settings.classlink_issuer} {settings.clever_oauth_url.rstrip('/')}",
        https=settings.session_cookie_secure,
        title="Educator Portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    serve(app, service)  # the gates of every route (web/gates.py) find the service on the app
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    from rostersync.web.ratelimit import install_rate_limits

    install_rate_limits(app, lambda: service.staff.limits)  # staff paths: 429 page

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        # Every page a browser can land on: a refusal page naming the field, never the raw
        # 422 JSON with the input echoed back (the API app answers JSON, web/api.py).
        return invalid_request_page(templates, request, exc)

    @app.exception_handler(PageError)
    async def gate_refused(request: Request, exc: PageError) -> Response:
        # A gate's refusal on this app's own routes (the admin routers render theirs).
        return page_error_response(templates, request, exc)

    def refused(request: Request, exc: SignInRefused) -> HTMLResponse:
        record_refusal(exc, settings)  # logged under the reference the page shows
        return page(
            request, "refused.html", 403, title=exc.title, message=str(exc), ref=exc.reason,
            reference=exc.reference,
        )  # fmt: skip

    @app.get("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        who: SignedInViewer,
        q: Annotated[str, Query(max_length=MAX_FILTER)] = "",
        next: Annotated[str, Query(max_length=2000)] = "/",
    ) -> Response:
        districts = service.signin.live_districts()
        needle = q.strip().casefold()
        if needle:
            # Without JavaScript the filter box submits here; with it, login.js filters live.
            districts = [d for d in districts if needle in d[1].casefold()]
        return page(
            request,
            "login.html",
            districts=districts,
            q=q,
            next=safe_next_path(next),
            viewer=who,
            clever=service.clever_signin.live_district_ids(),
        )

    @app.get("/login/start")
    def login_start(
        request: Request,
        binding: LoginBinding,
        district: Annotated[str, Query(max_length=64)] = "",
        next: Annotated[str, Query(max_length=2000)] = "/",
    ) -> Response:
        if not district:
            return RedirectResponse("/login", status_code=303)
        if service.clever_signin.signs_in(district):
            return start_clever(service, request, district, binding, next)
        try:
            url = service.signin.begin_sign_in(
                district_id=district, binding=binding, next_path=next
            )
        except SignInRefused as exc:
            return refused(request, exc)
        except ConfigError:
            return refused(request, protocol_failure("sso_not_configured"))
        response = RedirectResponse(url, status_code=303)
        cookies.set(response, cookies.login, binding, max_age=3600)
        return response

    @app.get("/oauth/callback")
    def callback(
        request: Request,
        binding: LoginBinding,
        code: Annotated[str, Query(max_length=2000)] = "",
        state: Annotated[str | None, Query(max_length=200)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        if error:
            return refused(
                request,
                SignInRefused(
                    "ClassLink did not sign you in (you may have cancelled). Go back to the "
                    "login page to try again.",
                    reason="classlink_error",
                ),
            )
        if not code:
            return refused(request, protocol_failure("callback_without_code"))
        # A browser without a binding cookie gets one now (LoginBinding): its state cannot match
        # (so the code is not used), and the restarted login is bound to it.
        try:
            outcome = service.signin.finish_sign_in(
                code=code,
                state=state,
                binding=binding,
                previous_session=request.cookies.get(cookies.session),
            )
        except SignInRefused as exc:
            return refused(request, exc)
        except RosterSyncError:
            return refused(request, protocol_failure("sso_not_configured"))
        if isinstance(outcome, Restart):
            response = RedirectResponse(outcome.url, status_code=303)
            cookies.set(response, cookies.login, binding, max_age=3600)
            return response
        # An educator who is their district's data manager, headed for the staff home, lands on
        # their district's page like a password sign-in does (web/landing.py).
        target = outcome.next_path
        if target in STAFF_HOMES:
            target = landing(service, service.staff.viewer(outcome.session_token), target)
        response = RedirectResponse(target, status_code=303)
        cookies.set(response, cookies.session, outcome.session_token, cookies.max_age)
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        # The cookie and the server session always end together (SameSite=Lax keeps other
        # sites' posts from carrying the cookie, so signing out needs no CSRF token).
        service.signin.sign_out(request.cookies.get(cookies.session))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(cookies.session, path="/", secure=cookies.secure, httponly=True)
        return response

    # The home pages and the eligibility forms (web/educator_pages.py).
    from rostersync.web.educator_pages import create_people_router

    app.include_router(create_people_router(service))
    app.include_router(create_clever_signin_router(service))  # Clever's callback

    # Staff sign-in, admin pages and the JSON API (web/admin.py, web/api.py).
    from rostersync.web.admin import create_admin_router
    from rostersync.web.api import create_api
    from rostersync.web.api_tokens_page import create_api_tokens_router
    from rostersync.web.district_page import create_district_router
    from rostersync.web.issues_pages import create_issues_router
    from rostersync.web.onboarding import create_onboarding_router
    from rostersync.web.records import create_records_router
    from rostersync.web.uploads import create_upload_router

    app.include_router(create_admin_router(service))
    app.include_router(create_district_router(service))
    app.include_router(create_issues_router(service))
    app.include_router(create_records_router(service))
    app.include_router(create_api_tokens_router(service))
    app.include_router(create_onboarding_router(service))
    app.include_router(create_upload_router(service))
    from rostersync.web.metrics import create_metrics_router

    app.include_router(create_metrics_router(service))  # vendor staff or loopback only
    # The JSON API, the district push endpoint (web/push.py) and their OpenAPI document.
    app.mount("/api", create_api(service))
    return app
