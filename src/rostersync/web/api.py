"""The admin JSON API under `/api/v1`, with its OpenAPI document at `/api/openapi.json` and
Swagger UI at `/api/docs` (its script and styles served from the `fastapi-offline` package by
this app, under a policy that allows no other origin and no inline script).

Authenticated by the staff session cookie (as the pages are), or by a personal API token sent as
`Authorization: Bearer rs_…` (made at /admin/api-tokens, `staff/api_tokens.py`). A write with the
cookie also needs the session's CSRF token in the `X-CSRF-Token` header (`GET /api/v1/session`
returns it), so a cross-site form cannot drive it; a write with a token needs none, since no
browser adds a token by itself. The gates are in `web/gates.py` (`ApiStaff`, `HeaderCsrf`,
`ApiDistrictInScope`, `ApiRunInScope`), scoped by the same lookups as the pages: a district or run
the caller may not see is a 404, exactly like one that does not exist, with a token as with the
session of the token's owner.

Responses are their own pydantic models, built field by field: a column added to a table never
reaches the API by accident, and credentials are never part of any model. Every status a route
answers with is in the document, errors included, and a request that fails validation gets the
field and the problem but never its own input echoed back. The district push endpoint
(`web/push.py`, HTTP Basic with the district's push key) is served and documented here too.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from rostersync.errors import NotFoundError, SpreadsheetRejected
from rostersync.providers import PROVIDERS
from rostersync.services import Services
from rostersync.store.keyset import SeekPage
from rostersync.store.list_pages import DISTRICTS_KEY, ISSUES_KEY, RUNS_KEY
from rostersync.sync.pipeline import PENDING
from rostersync.web.admin import session_cookie
from rostersync.web.api_docs import DOCS_ASSETS, PUSH_SECURITY_SCHEME, docs_page
from rostersync.web.api_issues import IssueOut, issue_out
from rostersync.web.gates import (
    ApiCall,
    ApiDistrictInScope,
    ApiRunInScope,
    ApiStaff,
    HeaderCsrf,
    serve,
)
from rostersync.web.pages import ACTION_ERRORS
from rostersync.web.paging import CursorParam, api_seek, links_of
from rostersync.web.push import create_push_router
from rostersync.web.upload_stream import UploadMalformed, UploadTooLarge, receive_file
from rostersync.web.uploads import (
    IMPORT_FORM,
    Outcome,
    describe_progress,
    row_report,
    too_large,
    upload_name,
)

API_VERSION = "1"


class ErrorOut(BaseModel):
    """A refusal: what was wrong and what to do about it."""

    detail: str


class FieldErrorOut(BaseModel):
    """One field of the request that failed validation (never the value that was sent)."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationOut(BaseModel):
    """The request's parameters or body failed validation."""

    detail: list[FieldErrorOut]


class TooLargeOut(BaseModel):
    """An upload over the limit; `limit_bytes` is the limit."""

    detail: str
    limit_bytes: int


def _error(description: str, model: Any = ErrorOut) -> dict[str, Any]:
    return {"model": model, "description": description}


# What the routes may answer besides success, for the OpenAPI document.
SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: _error(
        "Not signed in as staff, or the API token is not valid (revoked, or not one of this "
        "portal's): `WWW-Authenticate: Bearer` says so, and `detail` gives the refusal's reference"
    ),
    422: _error("A parameter failed validation", ValidationOut),
}
SCOPED: dict[int | str, dict[str, Any]] = {
    404: _error("No such district or run, or not one the caller may see")
}
WRITE: dict[int | str, dict[str, Any]] = {
    403: _error(
        "The session's CSRF token was not sent as X-CSRF-Token (a call with an API token "
        "sends none)"
    ),
    409: _error("Not done now: a sync is running, the run is not pending, or the source failed"),
}


# The list endpoints are keyset-paged (`web/paging.py`): the body stays the page's array, and
# these headers say how many there are and where the next and previous pages start.
PAGED_HEADERS: dict[str, Any] = {
    "X-Total-Count": {
        "description": "How many items the whole list has (under its filters)",
        "schema": {"type": "integer"},
    },
    "X-Next-Cursor": {
        "description": "The `cursor` of the next page; absent on the last page",
        "schema": {"type": "string"},
    },
    "X-Previous-Cursor": {
        "description": "The `cursor` of the previous page; absent on the first page",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next and previous pages as RFC 8288 links (`rel="next"`, '
        '`rel="prev"`), the same `limit` and filters kept',
        "schema": {"type": "string"},
    },
}
PAGED: dict[int | str, dict[str, Any]] = {
    200: {"description": "One page of the list, in its order", "headers": PAGED_HEADERS},
    400: _error("The `cursor` is not one this list made (changed, cut short or another list's)"),
}


def _page_headers(response: Response, request: Request, page: SeekPage, list_name: str) -> None:
    """State the list's total and its next and previous pages on `response`."""
    links = links_of(page, list_name, "")
    response.headers["X-Total-Count"] = str(page.total)
    found = []
    for cursor, rel, header in (
        (links.next_cursor, "next", "X-Next-Cursor"),
        (links.previous_cursor, "prev", "X-Previous-Cursor"),
    ):
        if cursor:
            response.headers[header] = cursor
            found.append(f'<{request.url.include_query_params(cursor=cursor)}>; rel="{rel}"')
    if found:
        response.headers["Link"] = ", ".join(found)


class SessionOut(BaseModel):
    """Who is calling, how, and the token every write with the session cookie must send as
    `X-CSRF-Token` (empty for a call with an API token, whose writes send none)."""

    display_name: str
    role: str
    district_id: str | None
    csrf_token: str
    via: Literal["session", "api_token"]


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


def create_api(service: Services) -> FastAPI:
    """The JSON API as an app to mount at `/api`.

    Args:
        service: The service API every route calls.

    Returns:
        The ASGI app; its OpenAPI document is at `/openapi.json` and Swagger UI at `/docs`.
    """
    cookies = session_cookie(service)
    # FastAPIOffline serves Swagger UI's script and styles from the package (no CDN); the page
    # itself is ours (`docs_page`), so that no inline script is needed.
    api = FastAPIOffline(
        title="Educator Portal admin API",
        version=API_VERSION,
        description="Districts, runs, previews, approvals and validation issues, scoped to "
        "the signed-in staff member (vendor staff: every district; data manager: their own). "
        "Districts push roster bundles to `/v1/districts/{slug}/bundles` with their push key.\n\n"
        "**Without a browser:** sign in to the admin portal, open *API tokens* "
        "(`/admin/api-tokens`), make a token with a label and copy it (it is shown once), then "
        "send it as `Authorization: Bearer rs_…`. A token reaches what its owner's session does "
        "and needs no `X-CSRF-Token`; revoke it on the same page. With the session cookie "
        "instead, every write sends the session's `csrf_token` (`GET /v1/session`) as "
        "`X-CSRF-Token`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url=DOCS_ASSETS,
        responses=SIGNED_IN,
    )
    serve(api, service)  # a mounted app: its routes' gates find the service on it

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default body echoes what was sent (`input`); say where and what, not that.
        fields = [
            {
                "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": fields}, status_code=422)

    def act(action: Any) -> Any:
        try:
            return action()
        except ACTION_ERRORS as exc:
            raise HTTPException(409, str(exc)) from None

    @api.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return docs_page(request.scope.get("root_path", ""), api.title)

    @api.get("/v1/session", response_model=SessionOut)
    def session(caller: ApiCall, staff: ApiStaff) -> SessionOut:
        return SessionOut(
            display_name=staff.display_name,
            role=staff.role,
            district_id=staff.district_id,
            csrf_token=staff.csrf_token,
            via="api_token" if caller.by_token else "session",
        )

    @api.get("/v1/districts", response_model=list[DistrictOut], responses=PAGED)
    def list_districts(
        request: Request,
        response: Response,
        staff: ApiStaff,
        limit: Annotated[int, Query(ge=1, le=500, description="Districts a page holds")] = 100,
        cursor: CursorParam = "",
    ) -> list[DistrictOut]:
        """The districts the caller may see, by display name, a page at a time."""
        only = None if staff.is_vendor_staff else staff.district_id
        seek = api_seek(cursor, "districts", DISTRICTS_KEY)
        listed = service.districts.overview_page(only, seek=seek, size=limit)
        _page_headers(response, request, listed.page, "districts")
        return [DistrictOut(**_district_out(o)) for o in listed.overviews]

    @api.get("/v1/districts/{slug}", response_model=DistrictDetailOut, responses=SCOPED)
    def get_district(found: ApiDistrictInScope) -> DistrictDetailOut:
        district, integration = found
        (overview,) = service.districts.overviews(district.id)
        answers = {name: getattr(integration, name) for name in QuestionnaireOut.model_fields}
        return DistrictDetailOut(
            **_district_out(overview),
            time_zone=district.time_zone,
            classlink_tenant_id=district.classlink_tenant_id,
            questionnaire=QuestionnaireOut(**answers),
        )

    @api.get(
        "/v1/districts/{slug}/runs", response_model=list[RunOut], responses={**SCOPED, **PAGED}
    )
    def list_runs(
        request: Request,
        response: Response,
        found: ApiDistrictInScope,
        limit: Annotated[int, Query(ge=1, le=200, description="Runs a page holds")] = 20,
        cursor: CursorParam = "",
    ) -> list[RunOut]:
        """The district's runs, newest first, a page at a time."""
        seek = api_seek(cursor, "runs", RUNS_KEY)
        listed = service.districts.run_page(found[0].id, seek=seek, size=limit)
        _page_headers(response, request, listed.page, "runs")
        return [_run_out(r) for r in listed.items]

    @api.get("/v1/runs/{run_id}", response_model=RunOut, responses=SCOPED)
    def get_run(found: ApiRunInScope) -> RunOut:
        run = found[0]
        try:
            held = service.runs.plan(run.id).held_reason
        except NotFoundError:
            held = None
        return _run_out(run, held)

    @api.post(
        "/v1/districts/{slug}/preview",
        response_model=RunOut,
        status_code=201,
        responses={**SCOPED, **WRITE},
    )
    def preview(staff: HeaderCsrf, found: ApiDistrictInScope) -> RunOut:
        report = act(lambda: service.runs.preview(found[0].id))
        return _run_out(service.runs.get(report.run_id))

    @api.post("/v1/runs/{run_id}/approve", response_model=RunOut, responses={**SCOPED, **WRITE})
    def approve(staff: HeaderCsrf, found: ApiRunInScope) -> RunOut:
        report = act(lambda: service.runs.approve(found[0].id, staff.actor))
        return _run_out(service.runs.get(report.run_id))

    @api.post("/v1/runs/{run_id}/discard", response_model=RunOut, responses={**SCOPED, **WRITE})
    def discard(staff: HeaderCsrf, found: ApiRunInScope) -> RunOut:
        return _run_out(act(lambda: service.runs.discard(found[0].id, staff.actor)))

    @api.post(
        "/v1/districts/{slug}/revalidate", response_model=RunOut, responses={**SCOPED, **WRITE}
    )
    def revalidate(staff: HeaderCsrf, found: ApiDistrictInScope) -> RunOut:
        report = act(lambda: service.runs.revalidate(found[0].id))
        return _run_out(service.runs.get(report.run_id))

    @api.get(
        "/v1/districts/{slug}/issues", response_model=list[IssueOut], responses={**SCOPED, **PAGED}
    )
    def open_issues(
        request: Request,
        response: Response,
        found: ApiDistrictInScope,
        code: Annotated[str, Query(max_length=64)] = "",
        sourced_id: Annotated[str, Query(max_length=255)] = "",
        limit: Annotated[int, Query(ge=1, le=1000, description="Issues a page holds")] = 500,
        cursor: CursorParam = "",
    ) -> list[IssueOut]:
        """The district's open issues (of one problem, or one record, if asked), a page at a
        time in a stable order."""
        seek = api_seek(cursor, "issues", ISSUES_KEY)
        listed = service.districts.open_issue_page(
            found[0].id,
            code=code,
            sourced_ids=(sourced_id,) if sourced_id else (),
            seek=seek,
            size=limit,
        )
        _page_headers(response, request, listed.page, "issues")
        audience = PROVIDERS.audience(found[1].source_kind)
        return [issue_out(i, audience) for i in listed.items]

    # Run progress, runs started in the background, and the staff import (web/uploads.py).
    @api.get("/v1/runs/{run_id}/progress", response_model=RunProgressOut, responses=SCOPED)
    def run_progress(found: ApiRunInScope) -> RunProgressOut:
        # The run afresh, then its progress: the progress is never older than the status.
        run = service.runs.get(found[0].id)
        progress = service.runs.progress(run.id)
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

    @api.post(
        "/v1/districts/{slug}/runs",
        response_model=RunOut,
        status_code=202,
        responses={**SCOPED, **WRITE},
    )
    def start_run(
        staff: HeaderCsrf, found: ApiDistrictInScope, mode: Literal["preview", "apply"] = "preview"
    ) -> RunOut:
        """Start a preview or a sync in the background; follow it at /v1/runs/{id}/progress."""
        run_id = act(
            lambda: service.runs.start_in_background(found[0].id, mode=mode, actor=staff.actor)
        )
        return _run_out(service.runs.get(run_id))

    @api.post(
        "/v1/districts/{slug}/imports",
        response_model=ImportOut,
        status_code=201,
        responses={
            **SCOPED,
            **WRITE,
            400: _error("Not a multipart/form-data form with a `file` field"),
            413: _error("The file is over `max_import_bytes`; none of it was kept", TooLargeOut),
            422: _error(
                "Rows refused (the report), or the file refused whole (`detail`), or a "
                "parameter failed validation; nothing written",
                ImportOut | ErrorOut | ValidationOut,
            ),
        },
        openapi_extra=IMPORT_FORM,
    )
    async def import_staff(request: Request, staff: HeaderCsrf, found: ApiDistrictInScope) -> Any:
        """Import staff from a CSV or XLSX file (the template's columns): every row, or none.

        The session, the CSRF header and the district are checked before the body is read;
        a file over `max_import_bytes` is refused with 413 as soon as it passes the limit.
        """
        limit = service.settings.max_import_bytes
        try:
            received = await receive_file(request, limit=limit)
        except UploadTooLarge:
            return JSONResponse({"detail": too_large(limit), "limit_bytes": limit}, 413)
        except UploadMalformed as exc:
            return JSONResponse({"detail": str(exc)}, 400)
        filename = upload_name(received.filename)
        try:
            report, rows = await run_in_threadpool(
                service.imports.import_staff_rows, found[0].id, filename, received.data, staff.actor
            )
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

    # Districts push bundles here with their push key (HTTP Basic), not a staff session.
    api.include_router(create_push_router(service))

    generate = api.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI's document (with the `apiToken` bearer scheme the gates declare), plus the push
        # key's scheme (the push routes check it themselves), and the session cookie's name
        # under this portal's settings.
        document = generate()
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.update(PUSH_SECURITY_SCHEME)
        if "staffSession" in schemes:
            schemes["staffSession"]["name"] = cookies.session
        return document

    api.openapi = openapi  # type: ignore[method-assign]
    return api


__all__ = ["create_api"]
