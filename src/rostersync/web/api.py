"""The admin JSON API under `/api/v1`, with its OpenAPI document at `/api/openapi.json` and
Swagger UI at `/api/docs`.

Authenticated by the staff session cookie (as the pages are); every write also needs the
session's CSRF token in the `X-CSRF-Token` header (`GET /api/v1/session` returns it), so a
cross-site form cannot drive it. Scoped by the same `Scope` as the pages: a district or run the
caller may not see is a 404, exactly like one that does not exist.

Responses are their own pydantic models, built field by field: a column added to a table never
reaches the API by accident, and credentials are never part of any model.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import hmac
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Header, HTTPException, Query, Request, UploadFile
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from rostersync.errors import NotFoundError, SpreadsheetRejected
from rostersync.service import RosterSync
from rostersync.sync.pipeline import PENDING
from rostersync.web.admin import ACTION_ERRORS, Scope, session_cookie
from rostersync.web.staff_auth import StaffViewer
from rostersync.web.uploads import Outcome, describe_progress, read_upload, row_report

API_VERSION = "1"
SWAGGER_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)


class SessionOut(BaseModel):
    """Who is signed in, and the token every write must send as `X-CSRF-Token`."""

    display_name: str
    role: str
    district_id: str | None
    csrf_token: str


class DistrictOut(BaseModel):
    """A district in the list: status, live date, last and next sync, open issues."""

    id: str
    slug: str
    display_name: str
    status: str
    go_live_date: date | None
    last_run_status: str | None
    last_run_at: datetime | None
    next_sync_at: datetime | None
    open_issues: int


class QuestionnaireOut(BaseModel):
    """A district's onboarding answers; its credentials are never returned."""

    source_kind: str
    source_url: str
    grades_provided: bool
    unique_emails_provided: bool
    student_id_field: str
    eligibility_source: str
    eligibility_field: str | None
    sync_frequency: str
    sync_time: str


class DistrictDetailOut(DistrictOut):
    """One district with its questionnaire answers."""

    time_zone: str
    classlink_tenant_id: str | None
    questionnaire: QuestionnaireOut


class RunOut(BaseModel):
    """A sync run: its counts, status and, for a held run, why it was held."""

    id: str
    district_id: str
    trigger: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any] | None
    error: str | None
    held_reason: str | None = None
    pending_decision: bool


class IssueOut(BaseModel):
    """An open validation issue: the record, the field, the problem and the fix."""

    entity: str
    sourced_id: str
    field: str
    code: str
    severity: str
    message: str
    fix: str
    first_seen: datetime


class RunProgressOut(BaseModel):
    """How far a run is: its phase, records pulled per collection, and the same in words.

    `phase` is "starting" until the run records its first progress, then pulling, validating,
    planning, writing and done; `finished` turns true when the run has ended.
    """

    run_id: str
    status: str
    phase: str
    collection: str | None
    records: dict[str, int]
    total: int
    summary: str
    updated_at: datetime | None
    finished: bool


class ImportRowErrorOut(BaseModel):
    """One problem in one cell: the column, what is wrong, and how to fix it."""

    column: str
    problem: str
    fix: str


class ImportRowOut(BaseModel):
    """One row of the uploaded file: created, refused (with its errors) or not imported."""

    row: int
    name: str
    email: str
    role: str
    outcome: Outcome
    account_id: str | None
    errors: list[ImportRowErrorOut]


class ImportOut(BaseModel):
    """A staff import: every row created, or none (then `errors` is above zero)."""

    filename: str
    status: Literal["imported", "rejected"]
    rows: int
    created: int
    errors: int
    report: list[ImportRowOut]


def _district_out(overview: Any) -> dict[str, Any]:
    d = overview.district
    return {
        "id": d.id,
        "slug": d.slug,
        "display_name": d.display_name,
        "status": d.status,
        "go_live_date": d.go_live_date,
        "last_run_status": overview.last_run_status,
        "last_run_at": overview.last_run_at,
        "next_sync_at": overview.next_sync_at,
        "open_issues": overview.open_issues,
    }


def _run_out(run: Any, held_reason: str | None = None) -> RunOut:
    return RunOut(
        id=run.id,
        district_id=run.district_id,
        trigger=run.trigger,
        mode=run.mode,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        counts=run.counts,
        error=run.error,
        held_reason=held_reason,
        pending_decision=run.status in PENDING,
    )


def create_api(service: RosterSync) -> FastAPI:
    """The JSON API as an app to mount at `/api`.

    Args:
        service: The service API every route calls.

    Returns:
        The ASGI app; its OpenAPI document is at `/openapi.json` and Swagger UI at `/docs`.
    """
    cookies = session_cookie(service)
    scope = Scope(service)
    api = FastAPI(
        title="Educator Portal admin API",
        version=API_VERSION,
        description="Districts, runs, previews, approvals and validation issues, scoped to "
        "the signed-in staff member (vendor staff: every district; data manager: their own).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    def require_staff(request: Request) -> StaffViewer:
        staff: StaffViewer | None = service.staff_viewer(request.cookies.get(cookies.session))
        if staff is None:
            raise HTTPException(401, "sign in at /staff/login first")
        return staff

    Staff = Annotated[StaffViewer, Depends(require_staff)]

    def require_csrf(
        staff: Staff, x_csrf_token: Annotated[str, Header(max_length=200)] = ""
    ) -> StaffViewer:
        if not hmac.compare_digest(x_csrf_token, staff.csrf_token):
            raise HTTPException(403, "send the session's csrf_token (GET /api/v1/session)")
        return staff

    Writer = Annotated[StaffViewer, Depends(require_csrf)]

    def require_district_access(slug: str, staff: Staff) -> Any:
        found = scope.district(staff, slug)
        if found is None:
            raise HTTPException(404, "no such district")
        return found

    def require_run_access(run_id: str, staff: Staff) -> Any:
        found = scope.run(staff, run_id)
        if found is None:
            raise HTTPException(404, "no such run")
        return found

    District = Annotated[Any, Depends(require_district_access)]
    Run = Annotated[Any, Depends(require_run_access)]

    def act(action: Any) -> Any:
        try:
            return action()
        except ACTION_ERRORS as exc:
            raise HTTPException(409, str(exc)) from None

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        html = get_swagger_ui_html(openapi_url="/api/openapi.json", title=api.title)
        # Swagger UI loads its script from a CDN; only this page allows it.
        html.headers["Content-Security-Policy"] = SWAGGER_CSP
        return html

    @api.get("/v1/session", response_model=SessionOut)
    def session(staff: Staff) -> SessionOut:
        return SessionOut(
            display_name=staff.display_name,
            role=staff.role,
            district_id=staff.district_id,
            csrf_token=staff.csrf_token,
        )

    @api.get("/v1/districts", response_model=list[DistrictOut])
    def list_districts(staff: Staff) -> list[DistrictOut]:
        only = None if staff.is_vendor_staff else staff.district_id
        return [DistrictOut(**_district_out(o)) for o in service.district_overviews(only)]

    @api.get("/v1/districts/{slug}", response_model=DistrictDetailOut)
    def get_district(found: District) -> DistrictDetailOut:
        district, integration = found
        (overview,) = service.district_overviews(district.id)
        answers = {name: getattr(integration, name) for name in QuestionnaireOut.model_fields}
        return DistrictDetailOut(
            **_district_out(overview),
            time_zone=district.time_zone,
            classlink_tenant_id=district.classlink_tenant_id,
            questionnaire=QuestionnaireOut(**answers),
        )

    @api.get("/v1/districts/{slug}/runs", response_model=list[RunOut])
    def list_runs(found: District, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[RunOut]:
        return [_run_out(r) for r in service.runs(found[0].id, limit=limit)]

    @api.get("/v1/runs/{run_id}", response_model=RunOut)
    def get_run(found: Run) -> RunOut:
        run = found[0]
        try:
            held = service.run_plan(run.id).held_reason
        except NotFoundError:
            held = None
        return _run_out(run, held)

    @api.post("/v1/districts/{slug}/preview", response_model=RunOut, status_code=201)
    def preview(staff: Writer, found: District) -> RunOut:
        report = act(lambda: service.preview_sync(found[0].id))
        return _run_out(service.run(report.run_id))

    @api.post("/v1/runs/{run_id}/approve", response_model=RunOut)
    def approve(staff: Writer, found: Run) -> RunOut:
        report = act(lambda: service.approve_run(found[0].id, staff.actor))
        return _run_out(service.run(report.run_id))

    @api.post("/v1/runs/{run_id}/discard", response_model=RunOut)
    def discard(staff: Writer, found: Run) -> RunOut:
        return _run_out(act(lambda: service.discard_run(found[0].id, staff.actor)))

    @api.post("/v1/districts/{slug}/revalidate", response_model=RunOut)
    def revalidate(staff: Writer, found: District) -> RunOut:
        report = act(lambda: service.revalidate(found[0].id))
        return _run_out(service.run(report.run_id))

    @api.get("/v1/districts/{slug}/issues", response_model=list[IssueOut])
    def open_issues(
        found: District,
        code: Annotated[str, Query(max_length=64)] = "",
        sourced_id: Annotated[str, Query(max_length=255)] = "",
    ) -> list[IssueOut]:
        return [
            IssueOut(
                entity=i.entity,
                sourced_id=i.sourced_id,
                field=i.field,
                code=i.code,
                severity=i.severity,
                message=i.message,
                fix=i.fix,
                first_seen=i.created_at,
            )
            for i in service.open_issues(found[0].id)
            if (not code or i.code == code) and (not sourced_id or i.sourced_id == sourced_id)
        ]

    # Run progress, runs started in the background, and the staff import (web/uploads.py).
    @api.get("/v1/runs/{run_id}/progress", response_model=RunProgressOut)
    def run_progress(found: Run) -> RunProgressOut:
        # The run afresh, then its progress: the progress is never older than the status.
        run = service.run(found[0].id)
        progress = service.run_progress(run.id)
        idle = "starting" if run.status == "running" else "done"
        return RunProgressOut(
            run_id=run.id,
            status=run.status,
            phase=progress.phase if progress else idle,
            collection=progress.collection if progress else None,
            records=progress.records if progress else {},
            total=progress.total if progress else 0,
            summary=describe_progress(run, progress),
            updated_at=progress.updated_at if progress else None,
            finished=run.status != "running",
        )

    @api.post("/v1/districts/{slug}/runs", response_model=RunOut, status_code=202)
    def start_run(
        staff: Writer, found: District, mode: Literal["preview", "apply"] = "preview"
    ) -> RunOut:
        """Start a preview or a sync in the background; follow it at /v1/runs/{id}/progress."""
        run_id = act(lambda: service.start_run(found[0].id, mode=mode))
        return _run_out(service.run(run_id))

    @api.post(
        "/v1/districts/{slug}/imports",
        response_model=ImportOut,
        status_code=201,
        responses={422: {"model": ImportOut, "description": "Rows refused; nothing written"}},
    )
    def import_staff(staff: Writer, found: District, file: Annotated[UploadFile, File()]) -> Any:
        """Import staff from a CSV or XLSX file (the template's columns): every row, or none."""
        filename = (file.filename or "upload").rsplit("/", 1)[-1][:200]
        try:
            data = read_upload(file.file, filename)
            report, rows = service.import_staff_rows(found[0].id, filename, data, staff.actor)
        except SpreadsheetRejected as exc:
            raise HTTPException(422, str(exc)) from None
        body = ImportOut(
            filename=filename,
            status="imported" if report.applied else "rejected",
            rows=report.rows,
            created=report.created,
            errors=len(report.errors),
            report=[
                ImportRowOut(
                    row=line.row,
                    name=line.name,
                    email=line.email,
                    role=line.role,
                    outcome=line.outcome,
                    account_id=line.account_id,
                    errors=[
                        ImportRowErrorOut(column=e.column, problem=e.problem, fix=e.fix)
                        for e in line.errors
                    ],
                )
                for line in row_report(report, rows)
            ],
        )
        if not report.applied:
            return JSONResponse(body.model_dump(mode="json"), status_code=422)
        return body

    return api


__all__ = ["create_api"]
