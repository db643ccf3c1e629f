"""Staff sign-in and the admin pages: districts, runs (approve/discard), open issues, audit log.

Every admin page names its gates (`web/gates.py`): `Staff` (a staff session, else the staff
sign-in page), then `DistrictInScope` or `RunInScope` (the district, or the run's district, exists
AND the staff member may see it, else the same 404 page, so a data manager cannot even learn that
another district's slug exists), then, on a POST, `FormCsrf` (the session's CSRF token). The JSON
API (`web/api.py`) scopes with the same lookups, so pages and API cannot drift apart. The sign-in
form, which has no session yet, carries a double-submit token bound to a cookie (login CSRF).

Getting in (rules in `staff/accounts.py`): /staff/login, then /staff/login/code when the account
uses TOTP; /staff/totp to turn TOTP on; /admin/districts/{slug}/invite (vendor staff only) emails
a data manager a one-time link to /staff/invitation/{token}, where they set a password. Signed
in, vendor staff land on the districts list and a data manager on their district's page
(`web/landing.py`); a data manager who opens the list sees their one district in it.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rostersync.domain.issue_groups import source_message
from rostersync.errors import ConfigError, NotFoundError
from rostersync.notify.csvfile import MEDIA_TYPE as CSV_TYPE
from rostersync.services import Services
from rostersync.signin.paths import safe_next_path
from rostersync.staff.errors import InvitationRefused, StaffSignInRefused, TotpRefused
from rostersync.staff.models import CodeNeeded, StaffSignedIn
from rostersync.store.list_pages import AUDIT_KEY, DISTRICTS_KEY
from rostersync.sync.pipeline import PENDING
from rostersync.web import held_review
from rostersync.web.cookies import Cookies
from rostersync.web.gates import (
    DistrictInScope,
    FormCsrf,
    LoginFormFresh,
    PageError,
    RunInScope,
    Staff,
    VendorDistrict,
    not_found,
)
from rostersync.web.landing import HOME, landing
from rostersync.web.pages import (
    MESSAGES,
    act,
    page_error_response,
    page_route,
)
from rostersync.web.paging import CursorParam, links_of, page_seek, shown_words

HERE = Path(__file__).parent
# A run started from a page is awaited this long: a small district's outcome shows at once, a
# big one's run page follows it live (web/uploads.py `describe_progress`).
FOREGROUND_SECONDS = 5.0
# Rows a page of the districts list and of the audit log shows (keyset-paged, web/paging.py).
LIST_PAGE = 50


def session_cookie(service: Services) -> Cookies:
    """The portal's cookie names (one session store for ClassLink and staff sign-in)."""
    return Cookies.of(service.settings)


def create_admin_router(service: Services) -> APIRouter:
    """The staff sign-in and admin pages over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    cookies = session_cookie(service)
    login_cookie = cookies.staff_login
    # The halfway sign-in (password right, TOTP code next): its random token, kept 5 minutes.
    code_cookie = cookies.staff_code
    # The admin templates, with the run page's filters and globals (web/presentation.py).
    from rostersync.web.presentation import admin_templates

    templates = admin_templates()
    router = APIRouter(route_class=page_route(templates))

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    # Signing in ------------------------------------------------------------------------------
    def login_page(request: Request, *, next_path: str, error: str = "", email: str = "") -> Any:
        csrf = secrets.token_urlsafe(32)
        response = page(
            request,
            "admin_login.html",
            401 if error else 200,
            csrf=csrf,
            next=safe_next_path(next_path),
            error=error,
            email=email,
            staff=None,
        )
        cookies.set(response, login_cookie, csrf, max_age=3600)
        return response

    @router.get("/staff/login", response_class=HTMLResponse)
    def staff_login(request: Request, next: Annotated[str, Query(max_length=2000)] = HOME) -> Any:
        return login_page(request, next_path=next)

    @router.post("/staff/login")
    def staff_login_post(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=1000)],
        fresh: LoginFormFresh,
        next: Annotated[str, Form(max_length=2000)] = HOME,
    ) -> Any:
        if not fresh:
            return login_page(
                request, next_path=next, email=email, error="This form expired: sign in again."
            )
        target = safe_next_path(next)
        try:
            signed_in = service.staff.sign_in(
                email,
                password,
                previous_session=request.cookies.get(cookies.session),
                next_path=HOME if target == "/" else target,
            )
        except StaffSignInRefused as exc:
            return login_page(request, next_path=next, email=email, error=str(exc))
        if isinstance(signed_in, CodeNeeded):
            response = RedirectResponse("/staff/login/code", status_code=303)
            cookies.set(response, code_cookie, signed_in.token, max_age=300)
            return response
        return signed_in_to(signed_in, HOME if target == "/" else target)

    def signed_in_to(signed_in: StaffSignedIn, target: str) -> Response:
        """The new session's cookie, and a redirect to where the person lands (web/landing.py)."""
        response = RedirectResponse(landing(service, signed_in.viewer, target), status_code=303)
        cookies.set(response, cookies.session, signed_in.session_token, cookies.max_age)
        for name in (login_cookie, code_cookie):
            response.delete_cookie(name, path="/", secure=cookies.secure, httponly=True)
        return response

    # The TOTP code step after a right password (the code cookie binds it to this browser;
    # SameSite=Lax keeps it off cross-site POSTs, so it doubles as the form's CSRF check).
    def code_page(request: Request, error: str = "") -> Any:
        return page(request, "admin_totp_code.html", 401 if error else 200, error=error, staff=None)

    @router.get("/staff/login/code", response_class=HTMLResponse)
    def staff_login_code(request: Request) -> Any:
        if service.staff.code_step_next(request.cookies.get(code_cookie)) is None:
            raise PageError(location="/staff/login")
        return code_page(request)

    @router.post("/staff/login/code")
    def staff_login_code_post(
        request: Request, code: Annotated[str, Form(max_length=20)] = ""
    ) -> Any:
        try:
            signed_in, target = service.staff.sign_in_code(
                request.cookies.get(code_cookie),
                code,
                previous_session=request.cookies.get(cookies.session),
            )
        except StaffSignInRefused as exc:
            if service.staff.code_step_next(request.cookies.get(code_cookie)) is None:
                # Locked, or the step expired: back to the password.
                return login_page(request, next_path=HOME, error=str(exc))
            return code_page(request, str(exc))
        return signed_in_to(signed_in, target)

    @router.post("/staff/logout")
    def staff_logout(request: Request) -> Any:
        # Cookie and server session end together, as on /logout (web/app.py).
        service.signin.sign_out(request.cookies.get(cookies.session))
        response = RedirectResponse("/staff/login", status_code=303)
        response.delete_cookie(cookies.session, path="/", secure=cookies.secure, httponly=True)
        return response

    # Two-step sign-in (TOTP) for one's own staff account ---------------------------------------
    @router.get("/staff/totp", response_class=HTMLResponse)
    def totp_page(request: Request, staff: Staff) -> Any:
        if staff.totp_on or staff.through_classlink:
            return page(request, "admin_totp.html", staff=staff, enrolment=None, error="")
        enrolment = service.staff.begin_totp(staff)
        return page(request, "admin_totp.html", staff=staff, enrolment=enrolment, error="")

    @router.post("/staff/totp")
    def totp_confirm(
        request: Request, staff: FormCsrf, code: Annotated[str, Form(max_length=20)] = ""
    ) -> Any:
        try:
            service.staff.confirm_totp(staff, code)
        except TotpRefused as exc:
            raise PageError(
                status=400, title="Two-step sign-in is not on yet", message=f"{exc}."
            ) from None
        return RedirectResponse("/staff/totp", status_code=303)

    # Invitations: vendor staff invite a district's data manager --------------------------------
    @router.get("/admin/districts/{slug}/invite", response_class=HTMLResponse)
    def invite_page(request: Request, staff: Staff, found: VendorDistrict, sent: str = "") -> Any:
        return page(
            request, "admin_invite.html", district=found[0], staff=staff, sent=sent, error=""
        )

    @router.post("/admin/districts/{slug}/invite")
    def invite(
        request: Request,
        found: VendorDistrict,
        staff: FormCsrf,
        email: Annotated[str, Form(max_length=320)] = "",
    ) -> Any:
        district = found[0]
        try:
            _, delivered = service.staff.invite(
                district=district.id, email=email, actor=staff.actor
            )
        except ConfigError as exc:
            return page(
                request,
                "admin_invite.html",
                400,
                district=district,
                staff=staff,
                sent="",
                error=f"Not sent: {exc}.",
            )
        outcome = "sent" if delivered else "failed"
        return RedirectResponse(
            f"/admin/districts/{district.slug}/invite?sent={outcome}", status_code=303
        )

    # Accepting an invitation (no session yet: the link's token is the credential) ------------
    def refused_invitation(exc: InvitationRefused) -> PageError:
        return PageError(status=410, title="This link cannot be used", message=str(exc))

    Token = Annotated[str, PathParam(max_length=200)]

    @router.get("/staff/invitation/{token}", response_class=HTMLResponse)
    def invitation_page(request: Request, token: Token) -> Any:
        try:
            details = service.staff.invitation(token)
        except InvitationRefused as exc:
            raise refused_invitation(exc) from None
        return accept_page(request, token, details)

    def accept_page(
        request: Request, token: str, details: Any, error: str = "", name: str = ""
    ) -> Any:
        csrf = secrets.token_urlsafe(32)
        response = page(
            request,
            "admin_invite_accept.html",
            400 if error else 200,
            token=token,
            invitation=details,
            csrf=csrf,
            error=error,
            person_name=name,
            staff=None,
        )
        cookies.set(response, login_cookie, csrf, max_age=3600)
        return response

    @router.post("/staff/invitation/{token}")
    def invitation_accept(
        request: Request,
        token: Token,
        fresh: LoginFormFresh,
        name: Annotated[str, Form(max_length=255)] = "",
        password: Annotated[str, Form(max_length=1000)] = "",
        password_again: Annotated[str, Form(max_length=1000)] = "",
    ) -> Any:
        try:
            details = service.staff.invitation(token)
        except InvitationRefused as exc:
            raise refused_invitation(exc) from None
        if not fresh:
            return accept_page(request, token, details, "This form expired: fill it in again.")
        try:
            signed_in = service.staff.accept_invitation(
                token,
                display_name=name,
                password=password,
                password_again=password_again,
                previous_session=request.cookies.get(cookies.session),
            )
        except InvitationRefused as exc:
            raise refused_invitation(exc) from None
        except ConfigError as exc:
            return accept_page(request, token, details, f"Not saved: {exc}.", name)
        return signed_in_to(signed_in, HOME)

    # Districts -------------------------------------------------------------------------------
    @router.get("/admin", response_class=HTMLResponse)
    def admin_home(staff: Staff) -> Any:
        return RedirectResponse(landing(service, staff, HOME), status_code=303)

    @router.get("/admin/districts", response_class=HTMLResponse)
    def districts(request: Request, staff: Staff, cursor: CursorParam = "") -> Any:
        seek = page_seek(cursor, "districts", DISTRICTS_KEY, HOME)
        listed = service.districts.overview_page(
            None if staff.is_vendor_staff else staff.district_id, seek=seek, size=LIST_PAGE
        )
        return page(
            request,
            "admin_districts.html",
            overviews=listed.overviews,
            shown=shown_words(listed.page, "district", "districts"),
            links=links_of(listed.page, "districts", HOME),
            staff=staff,
        )

    @router.post("/admin/districts/{slug}/preview")
    def preview(found: DistrictInScope, staff: FormCsrf) -> Any:
        return start(found[0], "preview", staff.actor)

    @router.post("/admin/districts/{slug}/sync")
    def sync_now(found: DistrictInScope, staff: FormCsrf) -> Any:
        return start(found[0], "apply", staff.actor)

    def start(district: Any, mode: str, actor: str) -> Any:
        """Start the run in the background and send the person to its page to watch it."""
        run_id = act(
            lambda: service.runs.start_in_background(
                district.id, mode=mode, wait_seconds=FOREGROUND_SECONDS, actor=actor
            )
        )
        status = service.runs.get(run_id).status
        done = {"running": "started", "previewed": "previewed"}.get(status, "ended")
        return RedirectResponse(f"/admin/runs/{run_id}?done={done}", status_code=303)

    # Runs ------------------------------------------------------------------------------------
    Search = Annotated[str, Query(max_length=255)]
    RunParam = Annotated[str, Query(max_length=64)]

    def actor_names(district_id: str, staff: Any, actors: list[str | None]) -> dict[str, str]:
        """How a page names the audit actors it shows: by name and role, the person reading it
        by their own name."""
        named = service.districts.actor_display_names(district_id, actors)
        return {**named, staff.actor: staff.display_name}

    Action = Annotated[str, Query(max_length=16)]
    PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]

    def run_plan(run_id: str) -> Any:
        try:
            return service.runs.plan(run_id)
        except NotFoundError:
            return None  # a failed or skipped run has no plan

    @router.get("/admin/runs/{run_id}", response_class=HTMLResponse)
    def run_page(
        request: Request,
        staff: Staff,
        found: RunInScope,
        done: str = "",
        q: Search = "",
        action: Action = "",
        page_number: PageNumber = 1,
        cursor: CursorParam = "",
    ) -> Any:
        # Imported here: web/uploads.py builds on this module.
        from rostersync.web.uploads import describe_progress

        run, district = found
        progress = service.runs.progress(run.id)
        plan = run_plan(run.id)
        started_by = service.districts.run_starter(run.id)
        pending = run.status in PENDING
        action = action if action in held_review.ACTIONS else ""
        changes = (
            held_review.review(
                service.runs,
                plan,
                district.id,
                action=action,
                text=q,
                cursor=cursor,
                page=page_number,
            )
            if plan is not None and pending
            else None
        )
        return page(
            request,
            "admin_run.html",
            run=run,
            district=district,
            counts=sorted((run.counts or {}).items()),
            held_reason=plan.held_reason if plan else None,
            hold_words=held_review.hold_words(plan.held_reason if plan else None),
            decided_by=plan.decided_by if plan else None,
            pending=pending,
            held=run.status == "held",
            message=MESSAGES.get(done, ""),
            staff=staff,
            running=run.status == "running",
            progress=progress,
            progress_text=describe_progress(run, progress),
            changes=changes,
            change_actions=list(held_review.ACTIONS),
            # A record's id at the district's source, as its people call it ("Clever id").
            id_label=service.districts.audience(district.id).id_label,
            q=q,
            action=action,
            decision=held_review.decision_words(plan) if plan else "",
            issues_opened_closed=service.districts.run_issue_counts(run.id),
            started_by=started_by,
            actor_names=actor_names(
                district.id, staff, [started_by, plan.decided_by if plan else None]
            ),
        )

    @router.get("/admin/runs/{run_id}/changes.csv")
    def run_changes_download(
        staff: Staff, found: RunInScope, q: Search = "", action: Action = ""
    ) -> Response:
        run, district = found
        plan = run_plan(run.id)
        if plan is None:
            raise not_found()
        action = action if action in held_review.ACTIONS else ""
        return Response(
            held_review.download(service.runs, plan, district.id, action=action, text=q),
            media_type=CSV_TYPE,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{district.slug}-run-{run.id}-changes.csv"'
                )
            },
        )

    def confirm_page(request: Request, staff: Any, found: Any, decision: str) -> Any:
        run, district = found
        if run.status not in PENDING:
            raise PageError(
                status=409,
                title="Not done",
                message=f"This run is {run.status}: there is nothing left to {decision}.",
            )
        plan = run_plan(run.id)
        return page(
            request,
            "admin_run_confirm.html",
            run=run,
            district=district,
            staff=staff,
            decision=decision,
            counts_words=held_review.decision_words(plan) if plan else "change nothing",
            hold_words=held_review.hold_words(plan.held_reason if plan else None),
        )

    # A held run is decided only from its confirmation step, which names the counts; a preview,
    # which the person just asked for and reviews on its page, is decided in one step.
    def confirmed(run: Any, confirm: str) -> bool:
        return run.status != "held" or confirm == "yes"

    Confirm = Annotated[str, Form(max_length=8)]

    @router.get("/admin/runs/{run_id}/approve", response_class=HTMLResponse)
    def approve_confirm(request: Request, staff: Staff, found: RunInScope) -> Any:
        return confirm_page(request, staff, found, "approve")

    @router.post("/admin/runs/{run_id}/approve")
    def approve(found: RunInScope, staff: FormCsrf, confirm: Confirm = "") -> Any:
        if not confirmed(found[0], confirm):
            return RedirectResponse(f"/admin/runs/{found[0].id}/approve", status_code=303)
        applying = act(
            lambda: service.runs.approve_in_background(
                found[0].id, staff.actor, wait_seconds=FOREGROUND_SECONDS
            )
        )
        status = service.runs.get(applying).status
        done = {"running": "started", "succeeded": "approved"}.get(status, "ended")
        return RedirectResponse(f"/admin/runs/{applying}?done={done}", status_code=303)

    @router.get("/admin/runs/{run_id}/discard", response_class=HTMLResponse)
    def discard_confirm(request: Request, staff: Staff, found: RunInScope) -> Any:
        return confirm_page(request, staff, found, "discard")

    @router.post("/admin/runs/{run_id}/discard")
    def discard(found: RunInScope, staff: FormCsrf, confirm: Confirm = "") -> Any:
        if not confirmed(found[0], confirm):
            return RedirectResponse(f"/admin/runs/{found[0].id}/discard", status_code=303)
        act(lambda: service.runs.discard(found[0].id, staff.actor))
        return RedirectResponse(f"/admin/runs/{found[0].id}?done=discarded", status_code=303)

    # Audit ------------------------------------------------------------------------------------
    @router.get("/admin/districts/{slug}/audit", response_class=HTMLResponse)
    def audit(
        request: Request,
        staff: Staff,
        found: DistrictInScope,
        cursor: CursorParam = "",
        run: RunParam = "",
    ) -> Any:
        district = found[0]
        path = f"/admin/districts/{district.slug}/audit"
        first = f"{path}?{urlencode({'run': run})}" if run else path
        seek = page_seek(cursor, "audit", AUDIT_KEY, first)
        listed = service.districts.audit_page(district.id, seek=seek, size=LIST_PAGE, run_id=run)
        return page(
            request,
            "admin_audit.html",
            district=district,
            entries=listed.items,
            subjects=service.districts.audit_subjects(district.id, listed.items),
            actor_names=actor_names(district.id, staff, [e.actor for e in listed.items]),
            run_id=run,
            shown=shown_words(listed.page, "audit entry", "audit entries"),
            links=links_of(listed.page, "audit", path, {"run": run}),
            staff=staff,
        )

    @router.get("/admin/runs/{run_id}/issues", response_class=HTMLResponse)
    def run_issues(
        request: Request,
        staff: Staff,
        found: RunInScope,
        which: Annotated[Literal["opened", "closed"], Query()] = "opened",
        cursor: CursorParam = "",
    ) -> Any:
        run, district = found
        path = f"/admin/runs/{run.id}/issues"
        seek = page_seek(cursor, "run-issues", ("str",), f"{path}?which={which}")
        listed = service.districts.run_issue_page(
            run.id, closed=which == "closed", seek=seek, size=LIST_PAGE
        )
        audience = service.districts.audience(district.id)
        return page(
            request,
            "admin_run_issues.html",
            run=run,
            district=district,
            which=which,
            issues=listed.items,
            # Each issue's message, and a record's id, in the words of the district's source.
            issue_message=lambda i: source_message(i.message, audience),
            id_label=audience.id_label,
            shown=shown_words(listed.page, "issue", "issues"),
            links=links_of(listed.page, "run-issues", path, {"which": which}),
            staff=staff,
        )

    return router


__all__ = ["PageError", "create_admin_router", "not_found", "page_error_response", "session_cookie"]
