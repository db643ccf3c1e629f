"""The people pages: a student's or educator's home, and an educator confirming eligibility.

    GET  /                                          the signed-in person's home (else /login)
    POST /students/{student_id}/eligibility         confirm one student of the educator's
    POST /students/of-class/{class_id}/eligibility  confirm every student of one of their
                                                    classes who is not yet confirmed

Gates (`web/gates.py`): `SignedInViewer` for the home page, `ViewerFormCsrf` for both forms.
Both confirmations answer with a redirect to the class's section of the home page
(`/?class=…#class-<id>`), so the page opens where the teacher was instead of at its top; the
query says what was done, and the page words it in a status message (role=status) inside that
class's section. A student or class the educator does not teach is the same 404 as a missing
one, logged under a reference the page shows (`educator.confirm_refused`: reason, the person's kind
and id, the district's id; never a name).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from rostersync.errors import ConfigError, NotFoundError
from rostersync.refusals import new_reference
from rostersync.services import Services
from rostersync.signin.portal import ClassWithStudents, Home, Viewer
from rostersync.web.gates import SignedInViewer, ViewerFormCsrf

HERE = Path(__file__).parent
MAX_ID = 64
STATUS_WORDS = {"eligible": "eligible", "not_eligible": "not eligible"}

_log = structlog.get_logger(__name__)


def class_anchor(class_id: str) -> str:
    """The id of a class's section on the educator's home page."""
    return f"class-{class_id}"


def back_to_class(class_id: str, **done: str | int) -> str:
    """Where a confirmation sends the browser: the home page at the class's section."""
    if not class_id:
        return "/"
    query = urlencode({"class": class_id, **done})
    return f"/?{query}#{quote(class_anchor(class_id), safe='')}"


def notice_for(
    home: Home, class_id: str, *, confirmed: int | None, status: str, student: str
) -> tuple[str, str] | None:
    """(class id, sentence) of the status message after a confirmation, or None.

    Only a class of the educator's own home page gets one, and the sentence is made from what
    the database says (the class's title, the student's name and eligibility): what the address
    carries is only which class, which student and a count.
    """
    roster: ClassWithStudents | None = next((r for r in home.rosters if r.cls.id == class_id), None)
    if roster is None:
        return None
    title = roster.cls.title
    if confirmed is not None and status in STATUS_WORDS:
        if confirmed == 0:
            return class_id, f"Every student in {title} was already confirmed; nothing changed."
        students = "student" if confirmed == 1 else "students"
        return class_id, f"Confirmed {confirmed} {students} in {title} as {STATUS_WORDS[status]}."
    found = next((s for s in roster.students if s.student_id == student), None)
    if found is None or found.eligibility not in STATUS_WORDS:
        return None
    return class_id, (
        f"Confirmed {found.given_name} {found.family_name} (student ID "
        f"{found.district_student_id or 'not given'}) as {STATUS_WORDS[found.eligibility]} "
        f"in {title}."
    )


def create_people_router(service: Services) -> APIRouter:
    """The home pages and the eligibility forms over one service.

    Args:
        service: The service API every route calls.

    Returns:
        A router to include in the portal's app.
    """
    templates = Jinja2Templates(directory=HERE / "templates")
    router = APIRouter()

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def not_yours(request: Request, who: Viewer, reason: str, title: str, text: str) -> Response:
        reference = new_reference()
        _log.warning(
            "educator.confirm_refused",
            reference=reference,
            reason=reason,
            kind=who.kind,
            person_id=who.id,
            district=who.district_id,
        )
        return page(
            request, "refused.html", 404, title=title, message=text, ref=reason,
            reference=reference, viewer=who,
        )  # fmt: skip

    def not_changed(request: Request, who: Viewer, exc: ConfigError) -> Response:
        return page(
            request, "refused.html", 400, title="Not changed", message=str(exc), ref="config",
            viewer=who,
        )  # fmt: skip

    @router.get("/", response_class=HTMLResponse)
    def home(
        request: Request,
        who: SignedInViewer,
        class_id: Annotated[str, Query(alias="class", max_length=MAX_ID)] = "",
        confirmed: Annotated[int | None, Query(ge=0, le=100_000)] = None,
        status: Annotated[str, Query(alias="as", max_length=16)] = "",
        student: Annotated[str, Query(max_length=MAX_ID)] = "",
    ) -> Response:
        if who is None:
            return RedirectResponse("/login", status_code=303)
        data = service.signin.home(who)
        if who.kind != "educator":
            return page(request, "home_student.html", home=data, viewer=who)
        notice = (
            notice_for(data, class_id, confirmed=confirmed, status=status, student=student)
            if class_id
            else None
        )
        # Where the district's eligibility comes from, named as its source is (ClassLink, Clever).
        audience = (
            None if data.can_confirm_eligibility else service.districts.audience(who.district_id)
        )
        return page(
            request, "home_educator.html", home=data, viewer=who, notice=notice, audience=audience
        )

    @router.post("/students/{student_id}/eligibility")
    def confirm(
        request: Request,
        student_id: str,
        who: ViewerFormCsrf,
        status: Annotated[str, Form(max_length=32)],
        class_id: Annotated[str, Form(max_length=MAX_ID)] = "",
    ) -> Response:
        try:
            service.signin.confirm_eligibility(who, student_id, status)
        except NotFoundError:
            return not_yours(
                request, who, "not_your_student", "Student not found",
                "That student is not in any of your classes.",
            )  # fmt: skip
        except ConfigError as exc:
            return not_changed(request, who, exc)
        return RedirectResponse(back_to_class(class_id, student=student_id), status_code=303)

    @router.post("/students/of-class/{class_id}/eligibility")
    def confirm_class(
        request: Request,
        class_id: str,
        who: ViewerFormCsrf,
        status: Annotated[str, Form(max_length=32)],
    ) -> Response:
        try:
            done = service.signin.confirm_class_eligibility(who, class_id, status)
        except NotFoundError:
            return not_yours(
                request, who, "not_your_class", "Class not found",
                "That class is not one of yours.",
            )  # fmt: skip
        except ConfigError as exc:
            return not_changed(request, who, exc)
        location = back_to_class(done.class_id, confirmed=done.changed, **{"as": done.status})
        return RedirectResponse(location, status_code=303)

    return router


__all__ = ["back_to_class", "class_anchor", "create_people_router", "notice_for"]
