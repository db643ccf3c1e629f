"""A district's own page: its health at a glance, what it is, how it is connected, its runs.

At a glance (`Districts.health`): when a sync last succeeded and how long ago, when the schedule
runs next, the open errors and warnings (linking the issues page), whether the roster looks
stale, the last 30 runs as a chart drawn on the server (`web/run_chart.py`) over a table of the
same runs (every run is on /admin/districts/{slug}/runs, fifty a page, keyset-paged by
`web/paging.py`), who gets the summary emails, and, for a district that pushes files, the files it
pushed and where each one is.

Gates (`web/gates.py`): `Staff`, then `DistrictInScope` (else the same 404 page for a district
that does not exist and one the staff member may not see). Changing who gets the summary emails
takes `VendorDistrict` (a data manager gets that same 404 page: the addresses also let their
owners sign in as the district's data managers) and then `FormCsrf`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rostersync.errors import ConfigError
from rostersync.providers import PROVIDERS
from rostersync.services import Services
from rostersync.services.districts import HEALTH_RUNS, DistrictHealth, recipient_list
from rostersync.store.list_pages import RUNS_KEY
from rostersync.store.runs import SyncRunRecord
from rostersync.web.gates import DistrictInScope, FormCsrf, Staff, VendorDistrict
from rostersync.web.pages import MESSAGES, page_route, render
from rostersync.web.paging import CursorParam, links_of, page_seek, shown_words
from rostersync.web.run_chart import ChartRun, age_words, draw, seconds_words

# The page's own notices after a redirect (`?done=`), besides the shared ones.
SAVED = {"recipients": "Saved: the summary emails go to the addresses listed below."}
# Change outcomes a run's counts record per kind (`SyncReport.change_count`).
CHANGES = ("created", "updated", "restored", "deactivated")
MAX_RECIPIENTS_FORM = 8000
# Runs a page of a district's full runs list shows (/admin/districts/{slug}/runs).
RUNS_PAGE = 50


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def run_changes(counts: Mapping[str, Any] | None) -> int:
    """How many records a run changed (or a preview would change), from its stored counts."""
    counts = counts or {}
    entities = counts.get("entities")
    total = _number(counts.get("eligibility_changes"))
    if isinstance(entities, Mapping):
        for outcomes in entities.values():
            if isinstance(outcomes, Mapping):
                total += sum(_number(outcomes.get(name)) for name in CHANGES)
    return total


def run_errors(counts: Mapping[str, Any] | None) -> int:
    """How many errors a run found, from its stored counts."""
    issues = (counts or {}).get("issues")
    return _number(issues.get("errors")) if isinstance(issues, Mapping) else 0


def chart_run(run: SyncRunRecord) -> ChartRun:
    """A run as the chart and the runs table say it."""
    seconds = (
        (run.finished_at - run.started_at).total_seconds() if run.finished_at is not None else None
    )
    return ChartRun(
        id=run.id,
        started_at=run.started_at,
        status=run.status,
        seconds=seconds,
        changes=run_changes(run.counts),
        errors=run_errors(run.counts),
        mode=run.mode,
    )


def chart_of(runs: Sequence[ChartRun]) -> Any:
    """The runs (newest first, as the page lists them) as the chart, oldest on the left."""
    title = f"The last {len(runs)} runs: how long each took and how many records it changed"
    return draw(list(reversed(runs)), title=title, chart_id="run-chart")


def create_district_router(service: Services) -> APIRouter:
    """The district page over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    from rostersync.web.presentation import admin_templates

    templates = admin_templates()
    router = APIRouter(route_class=page_route(templates))

    def page(
        request: Request,
        staff: Any,
        found: Any,
        *,
        message: str = "",
        error: str = "",
        typed: str | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        district, integration = found
        health: DistrictHealth = service.districts.health(district.id, runs=HEALTH_RUNS)
        runs = [chart_run(r) for r in health.runs]
        audience = PROVIDERS.audience(integration.source_kind)
        return render(
            templates,
            request,
            "admin_district.html",
            status,
            district=district,
            integration=integration,
            health=health,
            runs=list(zip(health.runs, runs, strict=True)),
            chart=chart_of(runs),
            ago=lambda moment: age_words(moment, health.now),
            took=seconds_words,
            recipients_text="\n".join(health.recipients) if typed is None else typed,
            recipients_error=error,
            message=message,
            # Where the district's data is kept up to date, in its own words ("in Clever").
            source="the files it pushes" if audience.files else audience.source,
            id_label=audience.id_label,
            staff=staff,
        )

    @router.get("/admin/districts/{slug}", response_class=HTMLResponse)
    def district(request: Request, staff: Staff, found: DistrictInScope, done: str = "") -> Any:
        return page(request, staff, found, message=SAVED.get(done) or MESSAGES.get(done, ""))

    @router.post("/admin/districts/{slug}/recipients")
    def recipients(
        request: Request,
        found: VendorDistrict,
        staff: FormCsrf,
        recipients: Annotated[str, Form(max_length=MAX_RECIPIENTS_FORM)] = "",
    ) -> Any:
        district = found.district
        try:
            service.districts.set_recipients(
                district.id, recipient_list(recipients), actor=staff.actor
            )
        except ConfigError as exc:
            return page(
                request,
                staff,
                found,
                error=f"Not saved: {exc}.",
                typed=recipients,
                status=400,
            )
        return RedirectResponse(
            f"/admin/districts/{district.slug}?done=recipients#recipients", status_code=303
        )

    @router.get("/admin/districts/{slug}/runs", response_class=HTMLResponse)
    def runs(
        request: Request, staff: Staff, found: DistrictInScope, cursor: CursorParam = ""
    ) -> Any:
        """Every run of the district, newest first, fifty a page (keyset-paged)."""
        district = found[0]
        path = f"/admin/districts/{district.slug}/runs"
        seek = page_seek(cursor, "runs", RUNS_KEY, path)
        listed = service.districts.run_page(district.id, seek=seek, size=RUNS_PAGE)
        return render(
            templates,
            request,
            "admin_runs.html",
            district=district,
            runs=[(run, chart_run(run)) for run in listed.items],
            took=seconds_words,
            shown=shown_words(listed.page, "run", "runs"),
            links=links_of(listed.page, "runs", path),
            staff=staff,
        )

    return router


__all__ = ["chart_run", "create_district_router", "run_changes", "run_errors"]
