"""The onboarding wizard: a district from questionnaire to go-live, one saved step at a time.

    /admin/onboarding                     new district: the questionnaire (vendor staff only)
    /admin/onboarding/{slug}              resume: redirects to the first step not yet done
    /admin/onboarding/{slug}/answers      the questionnaire again, to edit it
    /admin/onboarding/{slug}/source       where the roster comes from (a ClassLink URL, key and
                                          secret; a ClassLink tenant id; a Clever district id),
                                          and Test connection; or "the district pushes
                                          OneRoster files"
    /admin/onboarding/{slug}/schedule     how often and when to sync (not needed for a
                                          district that pushes files)
    /admin/onboarding/{slug}/preview      preview the first sync, then approve it on its run page
    /admin/onboarding/{slug}/go-live      a go-live date, or go live now; then what to do next

The source step is done once Test connection has reached the source (a save alone, or a failed
test, leaves it not done); resuming goes on from the first step not yet saved.

The gates are the admin pages' (`web/gates.py`): `Staff`, then `ScopedDistrict`, so a data
manager reaches only their own district's steps and gets the same 404 as for a district that does
not exist; a new district needs `VendorStaff`. Every POST passes `FormCsrf` (the session's CSRF
token). Forms are parsed here into typed answers with one message per field (shown next to the
field, tied to it with `aria-describedby`); the service then checks the whole with
`Questionnaire.check`, so the wizard cannot save what the CLI would refuse. Keys and secrets go
in, encrypted, and never come back out: not into a page, a log line
or the audit log. The one exception is a push key and secret, shown once when issued.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from rostersync.domain.schedule import DAY_NAMES, MAX_INTERVAL_DAYS
from rostersync.errors import ConfigError, CredentialNotForSource
from rostersync.providers import PROVIDERS, push
from rostersync.services import Questionnaire, Services
from rostersync.staff.models import StaffViewer
from rostersync.web.gates import FormCsrf, ScopedDistrict, Staff, VendorStaff
from rostersync.web.onboarding_forms import (
    FREQUENCIES,
    STUDENT_ID_CHOICES,
    TIME_ZONES,
    UNREACHABLE,
    AnswersForm,
    GoLiveForm,
    ScheduleForm,
    SourceForm,
    answers_words,
    explain_source_failure,
    parse_answers,
    parse_schedule,
    source_errors,
)
from rostersync.web.pages import page_route

HERE = Path(__file__).parent
STEPS = (
    ("answers", "Questionnaire"),
    ("source", "Roster source"),
    ("schedule", "Schedule"),
    ("preview", "Preview and approve"),
    ("go-live", "Go live"),
)
GO_LIVE_MESSAGES = {
    "live": "The district is live: its people can sign in now.",
    "scheduled": "Saved: the district goes live on {date}.",
}
_log = structlog.get_logger(__name__)


def create_onboarding_router(service: Services) -> APIRouter:
    """The onboarding wizard's pages over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    templates = Jinja2Templates(directory=HERE / "templates")
    router = APIRouter(route_class=page_route(templates))

    def page(
        request: Request, name: str, staff: StaffViewer, district: Any, step: str, **context: Any
    ) -> HTMLResponse:
        status = 400 if context.get("errors") or context.get("error") else 200
        progress = service.onboarding.progress(district.id) if district is not None else {}
        kind = source_kind(district) if district is not None else None
        pushes = kind == push.KIND
        return templates.TemplateResponse(
            request,
            name,
            {
                "staff": staff,
                "district": district,
                "step": step,
                "steps": STEPS,
                "progress": progress,
                # Steps a district skips: one that pushes files is never synced on a schedule.
                "not_needed": {"schedule"} if pushes else set(),
                "student_id_choices": STUDENT_ID_CHOICES,
                # The questionnaire's words for the district's source (ClassLink, Clever, files).
                "words": answers_words(kind),
                "errors": {},
                "error": "",
                "message": "",
                **context,
            },
            status_code=status,
        )

    def source_kind(district: Any) -> str:
        return service.districts.get(district.id)[1].source_kind

    def answers_values(setup: Questionnaire) -> dict[str, Any]:
        field, detail = setup.student_id_field, ""
        if field.startswith("userIds:"):
            field, detail = "userIds", field.removeprefix("userIds:")
        elif field.startswith("metadata."):
            field, detail = "metadata", field.removeprefix("metadata.")
        return {
            "name": setup.name,
            "display_name": setup.display_name,
            "city": setup.city,
            "state": setup.state,
            "tenant_id": setup.tenant_id or "",
            "data_manager_emails": "\n".join(setup.data_manager_emails),
            "grades_provided": "yes" if setup.grades_provided else "no",
            "unique_emails_provided": "yes" if setup.unique_emails_provided else "no",
            "student_id_field": field,
            "student_id_detail": detail,
            "eligibility_source": setup.eligibility_source,
            "eligibility_field": setup.eligibility_field or "",
        }

    def to_step(district: Any, step: str) -> RedirectResponse:
        return RedirectResponse(f"/admin/onboarding/{district.slug}/{step}", status_code=303)

    # The questionnaire ----------------------------------------------------------------------
    @router.get("/admin/onboarding", response_class=HTMLResponse)
    def new_district(request: Request, staff: VendorStaff) -> Any:
        values = {"grades_provided": "", "unique_emails_provided": ""}
        return page(
            request, "onboarding_answers.html", staff, None, "answers", values=values, creating=True
        )

    @router.post("/admin/onboarding")
    def create_district(
        request: Request,
        vendor: VendorStaff,
        staff: FormCsrf,
        form: Annotated[AnswersForm, Form()],
    ) -> Any:
        answers, errors = parse_answers(form, creating=True)
        values = form.model_dump(exclude={"csrf"})
        if not errors:
            try:
                district = service.onboarding.start(Questionnaire(**answers), staff.actor)
            except ConfigError as exc:
                field = "slug" if "slug" in str(exc) else ""
                errors = {field: str(exc)} if field else {}
                return page(
                    request,
                    "onboarding_answers.html",
                    staff,
                    None,
                    "answers",
                    values=values,
                    creating=True,
                    errors=errors,
                    error="" if field else str(exc),
                )
            return to_step(district, "source")
        return page(
            request,
            "onboarding_answers.html",
            staff,
            None,
            "answers",
            values=values,
            creating=True,
            errors=errors,
        )

    @router.get("/admin/onboarding/{slug}", response_class=HTMLResponse)
    def resume(staff: Staff, district: ScopedDistrict) -> Any:
        progress = service.onboarding.progress(district.id)
        for step, done in (
            ("source", progress["source_saved"]),
            ("schedule", progress["schedule"]),
            ("preview", progress["approved"]),
        ):
            if not done:
                return to_step(district, step)
        return to_step(district, "go-live")

    @router.get("/admin/onboarding/{slug}/answers", response_class=HTMLResponse)
    def answers_page(request: Request, staff: Staff, district: ScopedDistrict) -> Any:
        values = answers_values(service.onboarding.answers(district.id))
        return page(request, "onboarding_answers.html", staff, district, "answers", values=values)

    @router.post("/admin/onboarding/{slug}/answers")
    def save_answers(
        request: Request,
        district: ScopedDistrict,
        staff: FormCsrf,
        form: Annotated[AnswersForm, Form()],
    ) -> Any:
        answers, errors = parse_answers(form, creating=False)
        error = ""
        if not errors:
            try:
                service.onboarding.update(district.id, staff.actor, step="answers", **answers)
            except ConfigError as exc:
                error = str(exc)
            else:
                return to_step(district, "source")
        values = form.model_dump(exclude={"csrf", "slug"})
        return page(
            request,
            "onboarding_answers.html",
            staff,
            district,
            "answers",
            values=values,
            errors=errors,
            error=error,
        )

    # The source -----------------------------------------------------------------------------
    def source_page(request: Request, staff: StaffViewer, district: Any, **context: Any) -> Any:
        integration = service.districts.get(district.id)[1]
        kind = context.pop("kind", integration.source_kind)
        url = context.pop("url", integration.source_url)
        return page(
            request,
            "onboarding_source.html",
            staff,
            district,
            "source",
            choices=PROVIDERS.wizard_choices(),
            providers=[p for p in PROVIDERS if p.in_wizard],
            kind=kind,
            url=url,
            stored=integration.source_kind in PROVIDERS.pulling_kinds(),
            **context,
        )

    @router.get("/admin/onboarding/{slug}/source", response_class=HTMLResponse)
    def source(request: Request, staff: Staff, district: ScopedDistrict) -> Any:
        return source_page(request, staff, district)

    @router.post("/admin/onboarding/{slug}/source")
    def save_source(
        request: Request,
        district: ScopedDistrict,
        staff: FormCsrf,
        form: Annotated[SourceForm, Form()],
    ) -> Any:
        kind, url = form.source_kind, form.source_url.strip()
        provider = PROVIDERS.by_choice(kind)
        if provider is not None and provider.kind == push.KIND:
            return push_page(
                request,
                staff,
                district,
                service.onboarding.use_push_source(district.id, staff.actor),
            )
        errors: dict[str, str] = {}
        if provider is None or not provider.pulls:
            errors["source_kind"] = "Choose where the district's roster comes from."
        elif provider.vendor_only and not staff.is_vendor_staff:
            # e.g. the proxy reads with the vendor's partner key: only the vendor points it at a
            # tenant (decision 0018).
            errors["source_kind"] = provider.vendor_only
        if provider is not None and not provider.needs_url:
            url = ""
        elif not url:
            errors["source_url"] = (
                "Enter the source URL, e.g. "
                "https://springfield-il-v2.rosterserver.com/ims/oneroster/v1p1."
            )
        elif urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            errors["source_url"] = "Enter a full https:// URL, as ClassLink's console shows it."
        elif service.settings.outbound_policy.require_https and urlsplit(url).scheme != "https":
            errors["source_url"] = (
                "Enter the https:// address: rostersync sends a district's credentials only "
                "over https."
            )
        stored_kind = service.districts.get(district.id)[1].source_kind
        errors.update(source_errors(form, provider, stored_kind))
        if errors:
            return source_page(request, staff, district, kind=kind, url=url, errors=errors)
        try:
            # Test connection saves the source and tries it; only a success marks the step done.
            tested = service.onboarding.set_source(
                district.id,
                staff.actor,
                source_kind=provider.kind if provider is not None else kind,
                source_url=url,
                key=form.key,
                secret=form.secret if provider is not None and provider.asks_secret else "",
                test=form.action == "test",
            )
        except CredentialNotForSource:
            errors = {
                "secret": (
                    "You changed the source, so type its secret again: a stored secret is only "
                    "ever sent to the source it was entered for."
                )
            }
            return source_page(request, staff, district, kind=kind, url=url, errors=errors)
        except ConfigError as exc:
            return source_page(request, staff, district, kind=kind, url=url, error=str(exc))
        if tested is None:
            return to_step(district, "schedule")
        if tested.failure is not None:
            field, message = explain_source_failure(tested.failure, provider)
            _log.info(
                "onboarding.source_test_failed",
                district_id=district.id,
                field=field,
                reason=type(tested.failure).__name__,
            )
            errors = {field: message} if field else {}
            return source_page(
                request, staff, district, errors=errors, error="" if field else message
            )
        return source_page(request, staff, district, message=tested.outcome, tested=True)

    def push_page(
        request: Request,
        staff: StaffViewer,
        district: Any,
        issued: tuple[str, str] | None,
        error: str = "",
    ) -> Any:
        base = service.settings.portal_base_url.rstrip("/")
        return page(
            request,
            "onboarding_push.html",
            staff,
            district,
            "source",
            issued=issued,
            error=error,
            push_url=f"{base}/api/v1/districts/{district.slug}/bundles",
        )

    @router.post("/admin/onboarding/{slug}/push/rotate")
    def rotate_push(request: Request, district: ScopedDistrict, staff: FormCsrf) -> Any:
        try:
            issued = service.onboarding.rotate_push_key(district.id, staff.actor)
        except ConfigError as exc:
            return push_page(request, staff, district, None, error=str(exc))
        return push_page(request, staff, district, issued)

    # The schedule ---------------------------------------------------------------------------
    @router.get("/admin/onboarding/{slug}/schedule", response_class=HTMLResponse)
    def schedule(request: Request, staff: Staff, district: ScopedDistrict) -> Any:
        if source_kind(district) == push.KIND:
            return schedule_page(request, staff, district, values={})
        setup = service.onboarding.answers(district.id)
        values = {
            "sync_frequency": setup.sync_frequency,
            "sync_days": setup.sync_days,
            "sync_interval_days": setup.sync_interval_days or "",
            "sync_time": setup.sync_time,
            "time_zone": setup.time_zone,
        }
        return schedule_page(request, staff, district, values=values)

    def schedule_page(request: Request, staff: StaffViewer, district: Any, **context: Any) -> Any:
        return page(
            request,
            "onboarding_schedule.html",
            staff,
            district,
            "schedule",
            pushes=source_kind(district) == push.KIND,
            frequencies=FREQUENCIES,
            day_names=DAY_NAMES,
            time_zones=TIME_ZONES,
            max_interval=MAX_INTERVAL_DAYS,
            **context,
        )

    @router.post("/admin/onboarding/{slug}/schedule")
    def save_schedule(
        request: Request,
        district: ScopedDistrict,
        staff: FormCsrf,
        form: Annotated[ScheduleForm, Form()],
    ) -> Any:
        answers, errors = parse_schedule(form)
        values = form.model_dump(exclude={"csrf"})
        if errors:
            return schedule_page(request, staff, district, values=values, errors=errors)
        try:
            service.onboarding.update(district.id, staff.actor, step="schedule", **answers)
        except ConfigError as exc:
            return schedule_page(request, staff, district, values=values, error=str(exc))
        return to_step(district, "preview")

    # Preview and approve --------------------------------------------------------------------
    @router.get("/admin/onboarding/{slug}/preview", response_class=HTMLResponse)
    def preview(request: Request, staff: Staff, district: ScopedDistrict) -> Any:
        integration = service.districts.get(district.id)[1]
        return page(
            request,
            "onboarding_preview.html",
            staff,
            district,
            "preview",
            runs=service.runs.recent(district.id, limit=10),
            pulls=integration.source_kind in PROVIDERS.pulling_kinds(),
        )

    # Go-live --------------------------------------------------------------------------------
    @router.get("/admin/onboarding/{slug}/go-live", response_class=HTMLResponse)
    def go_live(request: Request, staff: Staff, district: ScopedDistrict, done: str = "") -> Any:
        when = district.go_live_date.isoformat() if district.go_live_date else ""
        return go_live_page(
            request,
            staff,
            district,
            value=when,
            message=GO_LIVE_MESSAGES.get(done, "").format(date=when),
        )

    def go_live_page(request: Request, staff: StaffViewer, district: Any, **context: Any) -> Any:
        integration = service.districts.get(district.id)[1]
        return page(
            request,
            "onboarding_go_live.html",
            staff,
            district,
            "go-live",
            went_live_on=went_live_on(district),
            next_sync=next_sync(district, integration.source_kind),
            pushes=integration.source_kind == push.KIND,
            data_manager_emails=integration.data_manager_emails,
            **context,
        )

    def went_live_on(district: Any) -> date | None:
        """The day (in the district's time zone) it last went live, from its audit log."""
        if district.status != "live":
            return None
        for entry in service.districts.audit_entries(district.id):
            if entry.action == "go_live":
                return entry.at.astimezone(ZoneInfo(district.time_zone)).date()
        return None

    def next_sync(district: Any, kind: str) -> str:
        """The schedule in words and, once the district is scheduled, its next sync."""
        if kind not in PROVIDERS.pulling_kinds():
            return ""
        try:
            info = service.districts.schedule(district.id)
        except (ConfigError, StopIteration):  # no usable schedule, or not scheduled at all
            return ""
        if info.next_run_local is None:
            return info.description
        return f"{info.description}; next on {info.next_run_local:%Y-%m-%d at %H:%M %Z}"

    @router.post("/admin/onboarding/{slug}/go-live")
    def save_go_live(
        request: Request,
        district: ScopedDistrict,
        staff: FormCsrf,
        form: Annotated[GoLiveForm, Form()],
    ) -> Any:
        if form.action == "now":
            service.districts.set_live(district.id, staff.actor)
            return to_step(district, "go-live?done=live")
        try:
            when = date.fromisoformat(form.go_live_date.strip())
        except ValueError:
            return go_live_page(
                request,
                staff,
                district,
                value=form.go_live_date,
                errors={"go_live_date": "Enter the go-live date as YYYY-MM-DD, e.g. 2027-08-16."},
            )
        try:
            service.onboarding.set_go_live_date(district.id, staff.actor, when)
        except ConfigError as exc:
            return go_live_page(
                request,
                staff,
                district,
                value=form.go_live_date,
                errors={"go_live_date": str(exc)},
            )
        return to_step(district, "go-live?done=scheduled")

    return router


__all__ = [
    "UNREACHABLE",
    "AnswersForm",
    "ScheduleForm",
    "create_onboarding_router",
    "explain_source_failure",
    "parse_answers",
    "parse_schedule",
]
