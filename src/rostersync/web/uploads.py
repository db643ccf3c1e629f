"""The roster import upload page, and what the pages and the API say about a run in progress.

    GET  /admin/districts/{slug}/import                 the form, and the two template downloads
    GET  /admin/districts/{slug}/import/template.{fmt}  the template as CSV or XLSX
    POST /admin/districts/{slug}/import                 upload: every row imported, or none, and
                                                        the report row by row

The gates are the admin pages' (`web/gates.py`: `Staff`, `DistrictInScope`, and `UploadCsrf`
for the session's CSRF token), so a data manager reaches only their own district here too. They
are passed before the file is read: the routes declare no body, and `web/upload_stream.py`
streams the form only after the session and the district's scope are checked, checks the form's
CSRF token as the file's part begins, and stops at `max_import_bytes` (413). A file whose
structure is unusable (missing column, wrong sheet, bad encoding) is refused whole with the
reason; a file with any bad row writes nothing and lists each problem by row and column with its
fix (`Services.imports.import_staff`). The API twin,
`POST /api/v1/districts/{slug}/imports`, lives in `web/api.py` and uses `row_report` from here,
so page and API report the same rows.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from rostersync.domain.staff_import import ImportReport, RowError, SheetRow
from rostersync.errors import ConfigError, SpreadsheetRejected
from rostersync.services import Services
from rostersync.staff.models import StaffViewer
from rostersync.web.admin import HERE
from rostersync.web.gates import DistrictInScope, Staff, UploadCsrf, not_found
from rostersync.web.pages import page_route
from rostersync.web.upload_stream import UploadMalformed, UploadTooLarge, receive_file

TEMPLATE_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# The report, row by row ----------------------------------------------------------------------
Outcome = Literal["created", "refused", "not_imported"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportRow:
    """One data row of an uploaded file and what became of it.

    `outcome` is "created" (the account exists now), "refused" (`errors` say which column and
    how to fix it) or "not_imported" (the row is fine, but another row was refused, so nothing
    in the file was written).
    """

    row: int
    name: str
    email: str
    role: str
    outcome: Outcome
    account_id: str | None
    errors: tuple[RowError, ...]


def row_report(report: ImportReport, rows: list[SheetRow]) -> list[ImportRow]:
    """Every row of the file with its outcome, in file order."""
    by_row: dict[int, list[RowError]] = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append(error)
    # `account_ids` are in the order of the valid rows, which is every row when it applied.
    created = iter(report.account_ids) if report.applied else iter(())
    lines = []
    for r in rows:
        errors = tuple(by_row.get(r.row, ()))
        outcome: Outcome
        if errors:
            outcome, account_id = "refused", None
        elif report.applied:
            outcome, account_id = "created", next(created, None)
        else:
            outcome, account_id = "not_imported", None
        lines.append(
            ImportRow(
                row=r.row,
                name=" ".join(
                    p for p in (r.cells.get("first_name", ""), r.cells.get("last_name", "")) if p
                ).strip(),
                email=r.cells.get("email", "").strip(),
                role=r.cells.get("role", "").strip().lower(),
                outcome=outcome,
                account_id=account_id,
                errors=errors,
            )
        )
    return lines


def size_text(limit: int) -> str:
    """A byte limit as people read it: "5 MB", "256 KB"."""
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit / 1024:g} KB" if limit >= 1024 else f"{limit:,} bytes"


def too_large(limit: int) -> str:
    """What a refused oversize import says: the limit, the setting, and what to do."""
    return (
        f"the file is over the {size_text(limit)} limit for one import: split it into several "
        "files, or save it as CSV without formatting (the vendor sets the limit with "
        "ROSTERSYNC_MAX_IMPORT_BYTES)"
    )


def upload_name(filename: str) -> str:
    """The uploaded file's name as shown back: its last path part, at most 200 characters."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"


# A page or API upload's form, documented for OpenAPI (the routes read it themselves).
IMPORT_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The staff file, CSV or XLSX, in the template's "
                            "columns; at most `max_import_bytes` (5 MiB unless the vendor "
                            "changed it).",
                        }
                    },
                }
            }
        },
    }
}


# The progress of a run, in words -------------------------------------------------------------
# How a run ended, as the end of "Finished: …"; a status not listed reads "the run is <status>".
_OUTCOME_WORDS = {
    "succeeded": "the run succeeded",
    "held": "the run is held for review",
    "previewed": "the preview is ready for review",
    "approved": "the preview was approved and applied",
    "discarded": "the run was discarded",
    "skipped": "the run was skipped",
    "failed": "the run failed",
}


def run_outcome_words(status: str, counts: Any = None) -> str:
    """How a finished run ended, in words: "the run succeeded with issues (3 errors)".

    Args:
        status: The run's status.
        counts: The run's counts; a sync that succeeded but found errors says how many.
    """
    issues = (counts or {}).get("issues") if isinstance(counts, dict) else None
    errors = issues.get("errors", 0) if isinstance(issues, dict) else 0
    if status == "succeeded" and isinstance(errors, int) and errors > 0:
        found = "1 error" if errors == 1 else f"{errors:,} errors"
        return f"the run succeeded with issues ({found})"
    return _OUTCOME_WORDS.get(status, f"the run is {status.replace('_', ' ')}")


def describe_progress(run: Any, progress: Any) -> str:
    """What a run is doing, as one sentence for the run page's live region and the API.

    Args:
        run: The run (`store.runs.SyncRunRecord`).
        progress: Its last recorded progress (`store.progress.RunProgress`), or None.

    The run does not say where its roster comes from, so the words name no source: a district
    that pushes files is never told it is connecting to ClassLink.
    """
    if run.status != "running":
        pulled = f" after pulling {progress.total:,} records" if progress else ""
        return f"Finished{pulled}: {run_outcome_words(run.status, run.counts)}."
    reaching = "reaching the district's roster source"
    if progress is None:
        return f"Starting: {reaching}."
    if progress.phase == "pulling":
        if progress.collection is None:
            return f"Pulling: {reaching}."
        now = progress.records.get(progress.collection, 0)
        return f"Pulling {progress.collection}: {now:,} records so far ({progress.total:,} in all)."
    if progress.phase == "validating":
        return f"Pulled {progress.total:,} records; checking them against the district's answers."
    if progress.phase == "planning":
        return f"Pulled {progress.total:,} records; working out what would change."
    if progress.phase == "writing":
        saving = "the plan for review" if run.mode == "preview" else "the changes"
        return f"Pulled {progress.total:,} records; saving {saving}."
    return f"Finishing after pulling {progress.total:,} records."


# The upload page -----------------------------------------------------------------------------
def create_upload_router(service: Services) -> APIRouter:
    """The roster import upload pages over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    templates = Jinja2Templates(directory=HERE / "templates")
    router = APIRouter(route_class=page_route(templates))

    def import_page(
        request: Request, staff: StaffViewer, district: Any, status: int = 200, **result: Any
    ) -> HTMLResponse:
        audience = service.districts.audience(district.id)
        context = {
            "district": district,
            "staff": staff,
            # What the district's roster source is called, and whether it is pushed files.
            "source": audience.source,
            "pushed": audience.files,
            "id_label": audience.id_label,
            "refused": "",
            "report": None,
            "max_rows": service.settings.import_max_rows,
            "max_size": size_text(service.settings.max_import_bytes),
            **result,
        }
        return templates.TemplateResponse(request, "admin_import.html", context, status_code=status)

    @router.get("/admin/districts/{slug}/import", response_class=HTMLResponse)
    def import_form(request: Request, staff: Staff, found: DistrictInScope) -> Any:
        return import_page(request, staff, found[0])

    @router.get("/admin/districts/{slug}/import/template.{fmt}")
    def template(staff: Staff, found: DistrictInScope, fmt: str) -> Response:
        if fmt not in TEMPLATE_TYPES:
            raise not_found()
        try:
            body = service.imports.template(fmt)
        except ConfigError:
            raise not_found() from None
        return Response(
            body,
            media_type=TEMPLATE_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="staff-import-template.{fmt}"'},
        )

    @router.post("/admin/districts/{slug}/import", response_class=HTMLResponse)
    async def upload(
        request: Request, staff: Staff, found: DistrictInScope, check_csrf: UploadCsrf
    ) -> Any:
        # No body parameters: the session and the district were checked before any of the body
        # was read, and the CSRF field is checked as the file's part begins.
        district = found[0]
        limit = service.settings.max_import_bytes
        try:
            received = await receive_file(request, limit=limit, before_file=check_csrf)
        except UploadTooLarge:
            return import_page(request, staff, district, 413, refused=too_large(limit))
        except UploadMalformed as exc:
            return import_page(request, staff, district, 400, refused=f"{exc}.")
        filename = upload_name(received.filename)
        try:
            report, rows = await run_in_threadpool(
                service.imports.import_staff_rows, district.id, filename, received.data, staff.actor
            )
        except SpreadsheetRejected as exc:
            return import_page(request, staff, district, 422, refused=str(exc), filename=filename)
        return import_page(
            request,
            staff,
            district,
            200 if report.applied else 422,
            report=report,
            rows=row_report(report, rows),
            filename=filename,
        )

    return router


__all__ = [
    "IMPORT_FORM",
    "ImportRow",
    "Outcome",
    "create_upload_router",
    "describe_progress",
    "row_report",
    "run_outcome_words",
    "size_text",
    "too_large",
    "upload_name",
]
