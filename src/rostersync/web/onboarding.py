"""The onboarding wizard: a district from questionnaire to go-live, one saved step at a time.

    /admin/onboarding                     new district: the questionnaire (vendor staff only)
    /admin/onboarding/{slug}              resume: redirects to the first step not yet done
    /admin/onboarding/{slug}/answers      the questionnaire again, to edit it
    /admin/onboarding/{slug}/source       ClassLink URL, key and secret, and Test connection;
                                          or "the district pushes OneRoster files"
    /admin/onboarding/{slug}/schedule     how often and when to sync
    /admin/onboarding/{slug}/preview      preview the first sync, then approve it on its run page
    /admin/onboarding/{slug}/go-live      a go-live date, or go live now

The gates are the admin pages' (`web/admin.py`): a staff session, then `Scope`, so a data manager
reaches only their own district's steps and gets the same 404 as for a district that does not
exist. Every POST carries the session's CSRF token. Forms are parsed here into typed answers with
one message per field (shown next to the field, tied to it with `aria-describedby`); the service
then checks the whole with `DistrictSetup.check`, so the wizard cannot save what the CLI would
refuse. Keys and secrets go in, encrypted, and never come back out: not into a page, a log line
or the audit log. The one exception is a push key and secret, shown once when issued.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import hmac
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.schedule import DAY_NAMES, MAX_INTERVAL_DAYS
from rostersync.errors import (
    ConfigError,
    CredentialNotForSource,
    RetriableSourceError,
    SourceAuthError,
    SourceError,
)
from rostersync.oneroster.outbound import OutboundRefused
from rostersync.providers import PROVIDERS, Provider, push
from rostersync.service import SYNC_FREQUENCIES, DistrictSetup, RosterSync
from rostersync.staff.models import StaffViewer
from rostersync.web.admin import PageError, Scope, _page_route, not_found, session_cookie

HERE = Path(__file__).parent
STEPS = (
    ("answers", "Questionnaire"),
    ("source", "ClassLink credentials"),
    ("schedule", "Schedule"),
    ("preview", "Preview and approve"),
    ("go-live", "Go live"),
)
GO_LIVE_MESSAGES = {
    "live": "The district is live: its people can sign in now.",
    "scheduled": "Saved: the district goes live on its go-live date.",
}
STUDENT_ID_CHOICES = (
    ("identifier", "identifier (the user's identifier field)"),
    ("sourcedId", "sourcedId"),
    ("userIds", "a userIds entry of a type (e.g. StateID)"),
    ("metadata", "a metadata field (e.g. studentNumber)"),
)
FREQUENCIES = (
    ("daily", "Every day"),
    ("weekdays", "Weekdays (Monday to Friday)"),
    ("weekly", "Weekly, on the days below"),
    ("every_n_days", "Every N days"),
)
TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")

_log = structlog.get_logger(__name__)

Text = Annotated[str, Field(max_length=300)]
Secret = Annotated[str, Field(max_length=2000, repr=False)]


class AnswersForm(BaseModel):
    """The questionnaire as posted: every field text, parsed by `parse_answers`."""

    csrf: Text = ""
    slug: Text = ""
    name: Text = ""
    display_name: Text = ""
    city: Text = ""
    state: Text = ""
    tenant_id: Text = ""
    data_manager_emails: Annotated[str, Field(max_length=3000)] = ""
    grades_provided: Text = ""
    unique_emails_provided: Text = ""
    student_id_field: Text = ""
    student_id_detail: Text = ""
    eligibility_source: Text = ""
    eligibility_field: Text = ""


class SourceForm(BaseModel):
    """The source step as posted; `action` is "test" or "save"."""

    csrf: Text = ""
    source_kind: Text = ""
    source_url: Annotated[str, Field(max_length=2000)] = ""
    key: Secret = ""
    secret: Secret = ""
    action: Text = "save"


class ScheduleForm(BaseModel):
    """The schedule step as posted."""

    csrf: Text = ""
    sync_frequency: Text = ""
    sync_days: list[Text] = Field(default_factory=list, max_length=7)
    sync_interval_days: Text = ""
    sync_time: Text = ""
    time_zone: Text = ""


class GoLiveForm(BaseModel):
    """The go-live step as posted; `action` is "date" or "now"."""

    csrf: Text = ""
    go_live_date: Text = ""
    action: Text = "date"


def parse_answers(form: AnswersForm, *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The questionnaire's answers as `DistrictSetup` fields, and a message per bad field.

    Args:
        form: What was posted.
        creating: The slug is asked for (a new district); it is fixed afterwards.

    Returns:
        (answers, errors): errors maps a form field's name to what is wrong and how to fix it.
    """
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {}
    if creating:
        slug = form.slug.strip()
        if not SLUG.fullmatch(slug):
            errors["slug"] = (
                "Enter a short name of lower-case letters, digits and hyphens, such as "
                "springfield-il (at most 64 characters)."
            )
        answers["slug"] = slug
    required = (
        ("name", "the district's official name, e.g. Springfield Unified School District"),
        ("display_name", "the name on the login drop-down, e.g. Springfield USD – Springfield, IL"),
        ("city", "the city, e.g. Springfield"),
        ("state", "the state's two-letter code, e.g. IL"),
    )
    for name, example in required:
        value = getattr(form, name).strip()
        if not value:
            errors[name] = f"Enter {example}."
        answers[name] = value
    state = answers["state"].upper()
    if state and not re.fullmatch(r"[A-Z]{2}", state):
        errors["state"] = "Enter the state's two-letter code, e.g. IL."
    answers["state"] = state
    answers["tenant_id"] = form.tenant_id.strip() or None
    emails = [e for e in re.split(r"[\s,;]+", form.data_manager_emails.strip()) if e]
    bad = [e for e in emails if not EMAIL.fullmatch(e)]
    if not emails:
        errors["data_manager_emails"] = (
            "Enter the email of at least one data manager who gets the sync summaries."
        )
    elif bad:
        errors["data_manager_emails"] = (
            f"{len(bad)} of these is not an email address; write one per line, like "
            "name@district.org."
        )
    answers["data_manager_emails"] = emails
    for name, what in (
        ("grades_provided", "whether the district provides grade levels"),
        ("unique_emails_provided", "whether every person has a unique email"),
    ):
        value = getattr(form, name)
        if value not in ("yes", "no"):
            errors[name] = f"Choose yes or no: {what}."
        answers[name] = value == "yes"
    answers["student_id_field"] = _student_id_field(form, errors)
    eligibility = form.eligibility_source
    field = form.eligibility_field.strip()
    if eligibility not in (EligibilitySource.PORTAL, EligibilitySource.METADATA):
        errors["eligibility_source"] = (
            "Choose where eligibility comes from: a ClassLink metadata field, or set later in "
            "the portal."
        )
    elif eligibility == EligibilitySource.METADATA and not field:
        errors["eligibility_field"] = (
            "Enter the ClassLink metadata field that holds eligibility, e.g. eligibility."
        )
    answers["eligibility_source"] = eligibility or EligibilitySource.PORTAL.value
    answers["eligibility_field"] = field if eligibility == EligibilitySource.METADATA else None
    return answers, errors


def _student_id_field(form: AnswersForm, errors: dict[str, str]) -> str:
    choice, detail = form.student_id_field, form.student_id_detail.strip()
    if choice in ("identifier", "sourcedId"):
        return choice
    if choice in ("userIds", "metadata") and not detail:
        errors["student_id_detail"] = (
            "Enter the userIds type (e.g. StateID)"
            if choice == "userIds"
            else "Enter the metadata field's name (e.g. studentNumber)"
        ) + " that holds the unique student ID."
        return "identifier"
    if choice == "userIds":
        value = f"userIds:{detail}"
    elif choice == "metadata":
        value = f"metadata.{detail}"
    else:
        errors["student_id_field"] = "Choose which field holds the unique student ID."
        return "identifier"
    try:
        DistrictRules(student_id_field=value)
    except ValueError as exc:
        errors["student_id_detail"] = f"{exc}."
    return value


def parse_schedule(form: ScheduleForm) -> tuple[dict[str, Any], dict[str, str]]:
    """The schedule step's answers as `DistrictSetup` fields, and a message per bad field.

    The rules are `DistrictSetup.check`'s and the scheduler's (syncs less than 30 days apart).
    """
    errors: dict[str, str] = {}
    frequency = form.sync_frequency
    if frequency not in SYNC_FREQUENCIES:
        errors["sync_frequency"] = "Choose how often to sync."
    days = [d for d in form.sync_days if d]
    if frequency == "weekly":
        if not days:
            errors["sync_days"] = "Choose at least one day for a weekly sync."
        elif any(d not in DAY_NAMES for d in days):
            errors["sync_days"] = "Choose days from the list."
    interval: int | None = None
    if frequency == "every_n_days":
        text = form.sync_interval_days.strip()
        interval = int(text) if text.isdigit() else None
        if interval is None or not 1 <= interval <= MAX_INTERVAL_DAYS:
            errors["sync_interval_days"] = (
                f"Enter a whole number of days from 1 to {MAX_INTERVAL_DAYS}: syncs must run "
                "less than 30 days apart."
            )
    hh, _, mm = form.sync_time.strip().partition(":")
    if not (len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit() and int(hh) < 24) or (
        mm.isdigit() and int(mm) >= 60
    ):
        errors["sync_time"] = "Enter the time of day as HH:MM in 24-hour time, e.g. 05:30."
    zone = form.time_zone.strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = (
            "Enter the district's time zone as an IANA name, e.g. America/Chicago."
        )
    return {
        "sync_frequency": frequency,
        "sync_days": days if frequency == "weekly" else [],
        "sync_interval_days": interval,
        "sync_time": form.sync_time.strip(),
        "time_zone": zone,
    }, errors


UNREACHABLE = (
    "No OneRoster server could be reached at this address: check the source URL (the district's "
    "public https:// address, as ClassLink's console shows it) and that the server is up."
)


def source_errors(form: SourceForm, provider: Provider | None, stored_kind: str) -> dict[str, str]:
    """The key and secret the chosen provider asks for and the form left empty, by field.

    An empty field keeps the stored value. A provider with a secret leaves it to the service to
    refuse a changed source without its secret typed again; a provider without one (the proxy)
    keeps a stored key only for its own kind.
    """
    errors: dict[str, str] = {}
    if provider is None:
        return errors
    if provider.asks_secret:
        kept = stored_kind in PROVIDERS.pulling_kinds()
    else:
        kept = stored_kind == provider.kind
    for field in provider.fields:
        if field.name != "source_url" and not getattr(form, field.name).strip() and not kept:
            errors[field.name] = field.missing
    return errors


def explain_source_failure(exc: Exception) -> tuple[str, str]:
    """What a failed connection test means for the person, and the field they should check.

    Returns:
        (field, message): field is "source_url", "key", "secret" or "" (the form as a whole).
    """
    if isinstance(exc, SourceAuthError):
        credential = exc.credential.lower()
        if "secret" in credential or "partner" in credential:
            field = "secret"
        elif "key" in credential or "client id" in credential or "tenant" in credential:
            field = "key"
        else:
            field = ""
        return field, f"ClassLink refused the credentials: check the {exc.credential}. {exc}"
    if isinstance(exc, OutboundRefused) or (
        isinstance(exc, RetriableSourceError) and exc.status is None
    ):
        # One sentence whatever happened (refused, not resolved, nothing listening, timed out):
        # the form must not tell a person what the server's network holds.
        return "source_url", UNREACHABLE
    if isinstance(exc, RetriableSourceError):
        return "", f"The source is busy or failing right now: test again in a few minutes. {exc}"
    if isinstance(exc, SourceError):
        return (
            "source_url",
            f"The source answered, but not as a OneRoster API: check the URL. {exc}",
        )
    return "source_url", f"Check the source URL: {exc}"


def create_onboarding_router(service: RosterSync) -> APIRouter:
    """The onboarding wizard's pages over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    cookies = session_cookie(service)
    templates = Jinja2Templates(directory=HERE / "templates")
    scope = Scope(service)
    router = APIRouter(route_class=_page_route(templates))

    def require_staff(request: Request) -> StaffViewer:
        staff: StaffViewer | None = service.staff_viewer(request.cookies.get(cookies.session))
        if staff is None:
            target = quote(request.url.path, safe="/")
            raise PageError(location=f"/staff/login?next={target}")
        return staff

    Staff = Annotated[StaffViewer, Depends(require_staff)]

    def require_vendor_staff(staff: Staff) -> StaffViewer:
        if not staff.is_vendor_staff:
            raise PageError(
                status=403,
                title="Vendor staff only",
                message="Only vendor staff create districts. Your own district's onboarding "
                "steps are on its page: go back to your districts.",
            )
        return staff

    def require_district_access(slug: str, staff: Staff) -> Any:
        found = scope.district(staff, slug)
        if found is None:
            raise not_found()
        return found[0]

    VendorStaff = Annotated[StaffViewer, Depends(require_vendor_staff)]
    District = Annotated[Any, Depends(require_district_access)]

    def check_csrf(staff: StaffViewer, csrf: str) -> None:
        if not hmac.compare_digest(csrf, staff.csrf_token):
            raise PageError(
                status=403,
                title="Please try again",
                message="This form expired. Go back, reload the page and submit it again.",
            )

    def page(
        request: Request, name: str, staff: StaffViewer, district: Any, step: str, **context: Any
    ) -> HTMLResponse:
        status = 400 if context.get("errors") or context.get("error") else 200
        progress = service.onboarding_progress(district.id) if district is not None else {}
        return templates.TemplateResponse(
            request,
            name,
            {
                "staff": staff,
                "district": district,
                "step": step,
                "steps": STEPS,
                "progress": progress,
                "student_id_choices": STUDENT_ID_CHOICES,
                "errors": {},
                "error": "",
                "message": "",
                **context,
            },
            status_code=status,
        )

    def answers_values(setup: DistrictSetup) -> dict[str, Any]:
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
        request: Request, staff: VendorStaff, form: Annotated[AnswersForm, Form()]
    ) -> Any:
        check_csrf(staff, form.csrf)
        answers, errors = parse_answers(form, creating=True)
        values = form.model_dump(exclude={"csrf"})
        if not errors:
            try:
                district = service.start_onboarding(DistrictSetup(**answers), staff.actor)
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
    def resume(staff: Staff, district: District) -> Any:
        progress = service.onboarding_progress(district.id)
        for step, done in (
            ("source", progress["source"]),
            ("schedule", progress["schedule"]),
            ("preview", progress["approved"]),
        ):
            if not done:
                return to_step(district, step)
        return to_step(district, "go-live")

    @router.get("/admin/onboarding/{slug}/answers", response_class=HTMLResponse)
    def answers_page(request: Request, staff: Staff, district: District) -> Any:
        values = answers_values(service.onboarding_answers(district.id))
        return page(request, "onboarding_answers.html", staff, district, "answers", values=values)

    @router.post("/admin/onboarding/{slug}/answers")
    def save_answers(
        request: Request, staff: Staff, district: District, form: Annotated[AnswersForm, Form()]
    ) -> Any:
        check_csrf(staff, form.csrf)
        answers, errors = parse_answers(form, creating=False)
        error = ""
        if not errors:
            try:
                service.update_onboarding(district.id, staff.actor, step="answers", **answers)
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
        integration = service.district(district.id)[1]
        kind = context.pop("kind", integration.source_kind)
        url = context.pop("url", integration.source_url)
        return page(
            request,
            "onboarding_source.html",
            staff,
            district,
            "source",
            choices=PROVIDERS.wizard_choices(),
            kind=kind,
            url=url,
            stored=integration.source_kind in PROVIDERS.pulling_kinds(),
            **context,
        )

    @router.get("/admin/onboarding/{slug}/source", response_class=HTMLResponse)
    def source(request: Request, staff: Staff, district: District) -> Any:
        return source_page(request, staff, district)

    @router.post("/admin/onboarding/{slug}/source")
    def save_source(
        request: Request, staff: Staff, district: District, form: Annotated[SourceForm, Form()]
    ) -> Any:
        check_csrf(staff, form.csrf)
        kind, url = form.source_kind, form.source_url.strip()
        provider = PROVIDERS.by_choice(kind)
        if provider is not None and provider.kind == push.KIND:
            return push_page(
                request, staff, district, service.use_push_source(district.id, staff.actor)
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
        stored_kind = service.district(district.id)[1].source_kind
        errors.update(source_errors(form, provider, stored_kind))
        if errors:
            return source_page(request, staff, district, kind=kind, url=url, errors=errors)
        try:
            service.set_onboarding_source(
                district.id,
                staff.actor,
                source_kind=provider.kind if provider is not None else kind,
                source_url=url,
                key=form.key,
                secret=form.secret if provider is not None and provider.asks_secret else "",
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
        if form.action != "test":
            return to_step(district, "schedule")
        try:
            outcome = service.test_onboarding_source(district.id)
        except (SourceError, ConfigError) as exc:
            field, message = explain_source_failure(exc)
            _log.info(
                "onboarding.source_test_failed",
                district_id=district.id,
                field=field,
                reason=type(exc).__name__,
            )
            errors = {field: message} if field else {}
            return source_page(
                request, staff, district, errors=errors, error="" if field else message
            )
        return source_page(request, staff, district, message=outcome, tested=True)

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
    def rotate_push(
        request: Request, staff: Staff, district: District, csrf: Annotated[str, Form()] = ""
    ) -> Any:
        check_csrf(staff, csrf)
        try:
            issued = service.rotate_onboarding_push(district.id, staff.actor)
        except ConfigError as exc:
            return push_page(request, staff, district, None, error=str(exc))
        return push_page(request, staff, district, issued)

    # The schedule ---------------------------------------------------------------------------
    @router.get("/admin/onboarding/{slug}/schedule", response_class=HTMLResponse)
    def schedule(request: Request, staff: Staff, district: District) -> Any:
        setup = service.onboarding_answers(district.id)
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
            frequencies=FREQUENCIES,
            day_names=DAY_NAMES,
            time_zones=TIME_ZONES,
            max_interval=MAX_INTERVAL_DAYS,
            **context,
        )

    @router.post("/admin/onboarding/{slug}/schedule")
    def save_schedule(
        request: Request, staff: Staff, district: District, form: Annotated[ScheduleForm, Form()]
    ) -> Any:
        check_csrf(staff, form.csrf)
        answers, errors = parse_schedule(form)
        values = form.model_dump(exclude={"csrf"})
        if errors:
            return schedule_page(request, staff, district, values=values, errors=errors)
        try:
            service.update_onboarding(district.id, staff.actor, step="schedule", **answers)
        except ConfigError as exc:
            return schedule_page(request, staff, district, values=values, error=str(exc))
        return to_step(district, "preview")

    # Preview and approve --------------------------------------------------------------------
    @router.get("/admin/onboarding/{slug}/preview", response_class=HTMLResponse)
    def preview(request: Request, staff: Staff, district: District) -> Any:
        integration = service.district(district.id)[1]
        return page(
            request,
            "onboarding_preview.html",
            staff,
            district,
            "preview",
            runs=service.runs(district.id, limit=10),
            pulls=integration.source_kind in PROVIDERS.pulling_kinds(),
        )

    # Go-live --------------------------------------------------------------------------------
    @router.get("/admin/onboarding/{slug}/go-live", response_class=HTMLResponse)
    def go_live(request: Request, staff: Staff, district: District, done: str = "") -> Any:
        return page(
            request,
            "onboarding_go_live.html",
            staff,
            district,
            "go-live",
            value=district.go_live_date.isoformat() if district.go_live_date else "",
            message=GO_LIVE_MESSAGES.get(done, ""),
        )

    @router.post("/admin/onboarding/{slug}/go-live")
    def save_go_live(
        request: Request, staff: Staff, district: District, form: Annotated[GoLiveForm, Form()]
    ) -> Any:
        check_csrf(staff, form.csrf)
        if form.action == "now":
            service.set_live(district.id, staff.actor)
            return to_step(district, "go-live?done=live")
        try:
            when = date.fromisoformat(form.go_live_date.strip())
        except ValueError:
            return page(
                request,
                "onboarding_go_live.html",
                staff,
                district,
                "go-live",
                value=form.go_live_date,
                errors={"go_live_date": "Enter the go-live date as YYYY-MM-DD, e.g. 2027-08-16."},
            )
        try:
            service.set_go_live_date(district.id, staff.actor, when)
        except ConfigError as exc:
            return page(
                request,
                "onboarding_go_live.html",
                staff,
                district,
                "go-live",
                value=form.go_live_date,
                errors={"go_live_date": str(exc)},
            )
        return to_step(district, "go-live?done=scheduled")

    return router


__all__ = [
    "create_onboarding_router",
    "explain_source_failure",
    "parse_answers",
    "parse_schedule",
]
