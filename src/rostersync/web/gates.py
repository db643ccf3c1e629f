"""Every gate of the web layer, as FastAPI dependencies: a route names its gates in its signature.

Pages refuse with a `PageError` (a redirect, or an error page rendered by the router):

    Staff            a staff session, else 303 to /staff/login?next=<this page>
    VendorStaff      Staff who is vendor staff, else a 403 page (only vendor staff create districts)
    DistrictInScope  the `{slug}` district exists and Staff may see it (`StaffViewer.can_see`),
                     else the 404 page: another district's slug looks exactly like a missing one
    ScopedDistrict   the district record alone of DistrictInScope
    VendorDistrict   DistrictInScope for vendor staff only, else the same 404 page
    RunInScope       the `{run_id}` run exists and its district is in scope, else the 404 page
    FormCsrf         Staff whose form's `csrf` field is the session's token, else a 403 page
    UploadCsrf       the same check for a streamed upload, run as the file's part begins
    SignedInViewer   the educator or student signed in through ClassLink or Clever, or None
    LoginBinding     the browser's login-binding cookie, or a fresh value when it has none (then
                     no started login can match it): what an SSO start or callback binds to
    ViewerFormCsrf   a signed-in viewer whose form's `csrf` field is theirs: else 303 to /login,
                     or the 403 refusal page
    LoginFormFresh   whether a staff sign-in form's token matches its cookie (login CSRF); a
                     stale form is shown again, not refused

The JSON API refuses with JSON instead: `ApiStaff` (a personal API token as `Authorization:
Bearer rs_…`, or else the session cookie; else 401 with `WWW-Authenticate: Bearer`, and a refused
token is logged under a reference, `refusals.record_refusal`), `HeaderCsrf` (the session's token in
`X-CSRF-Token`, else 403; a call made with a token needs none), `ApiDistrictInScope` and
`ApiRunInScope` (404, for a token exactly as for its owner's session); the push endpoint
takes `PushKey` (the district's push key as HTTP Basic, else 401). `MetricsReader` says whether
a request may read /metrics. A route that puts its scope gate before its CSRF gate refuses an
out-of-scope district with 404 before looking at the token. Every gate reaches the service
through `_service`. tests/integration/admin/test_gates_on_every_route.py reads the gates off
every route.

`tokens_match` is the one comparison of a submitted secret token (a CSRF token, a login form's
token) with the expected one: in constant time, and over bytes, because a form may carry any
character and `hmac.compare_digest` refuses non-ASCII text with an exception (a 500) instead of
answering "no".
"""

# No `from __future__ import annotations`: FastAPI reads the gates' annotations at runtime.
import base64
import binascii
import hmac
import ipaddress
import secrets
from collections.abc import Callable
from typing import Annotated, NamedTuple
from urllib.parse import quote

import structlog
from fastapi import Depends, FastAPI, Form, Header, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from rostersync.errors import NotFoundError
from rostersync.refusals import new_reference, record_refusal
from rostersync.services import Services
from rostersync.signin.portal import Viewer
from rostersync.staff.api_tokens import ApiTokenRefused, ApiTokens
from rostersync.staff.models import StaffViewer
from rostersync.store.districts import DistrictRecord, IntegrationRecord
from rostersync.store.runs import SyncRunRecord
from rostersync.web.cookies import Cookies

EXPIRED = "This form expired. Go back, reload the page and submit it again."

_log = structlog.get_logger(__name__)


def tokens_match(given: str, expected: str) -> bool:
    """Whether a submitted token equals the expected one (never true for an empty expectation)."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# The service behind a request -----------------------------------------------------------------
def _service(request: HTTPConnection) -> Services:
    """The service of the app serving this request (each app gets it from `serve`)."""
    service: Services = request.app.state.service
    return service


def serve(app: FastAPI, service: Services) -> None:
    """Let the gates of `app`'s routes reach `service` (a mounted app needs its own call)."""
    app.state.service = service


def _cookies(request: HTTPConnection) -> Cookies:
    return Cookies.of(_service(request).settings)


# Refusals of the pages ------------------------------------------------------------------------
class PageError(Exception):
    """Stop a page with a redirect (`location`) or an error page (`status`); with a `ref`, the
    sign-in refusal page (refused.html) instead of the staff error page."""

    def __init__(
        self,
        *,
        status: int = 404,
        title: str = "",
        message: str = "",
        location: str = "",
        ref: str = "",
    ) -> None:
        super().__init__(title or location)
        self.status, self.title, self.message, self.location = status, title, message, location
        self.ref = ref


def trace_refusal(reason: str, staff: StaffViewer | None, district_id: str | None) -> str:
    """Log a refused or missing admin page or API call under a new reference; the reference.

    The line has why (`missing`, `out_of_scope`, `vendor_only`), the staff account's id and the
    district's id, never a name: a refusal leaves a trace, and the person can quote it."""
    reference = new_reference()
    log = _log.info if reason == "missing" else _log.warning
    log(
        "staff.page_refused",
        reference=reference,
        reason=reason,
        staff_id=staff.id if staff is not None else None,
        district=district_id,
    )
    return reference


def not_found(
    reason: str = "missing", staff: StaffViewer | None = None, district_id: str | None = None
) -> PageError:
    """The one 404 page for a district or run that is missing or not the staff member's; each
    carries a traced reference, so a missing page and a refused one look the same."""
    reference = trace_refusal(reason, staff, district_id)
    return PageError(
        title="Not found",
        message="There is no such page, or it is not in your district. Go back to your districts. "
        f"(Reference {reference}.)",
    )


class _Unseen(Exception):
    """A district or run that is missing, or not the staff member's: why, and which district."""

    def __init__(self, reason: str, district_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.district_id = district_id


# What a staff member may see ------------------------------------------------------------------
class DistrictScope(NamedTuple):
    """A district in the staff member's scope, with its integration."""

    district: DistrictRecord
    integration: IntegrationRecord


class RunScope(NamedTuple):
    """A run in the staff member's scope, with its district."""

    run: SyncRunRecord
    district: DistrictRecord


def _district_for(request: Request, staff: StaffViewer, slug: str) -> DistrictScope:
    """The district; `_Unseen` when it is missing *or* not the staff member's."""
    service = _service(request)
    try:
        district, integration = service.districts.get(slug)
    except NotFoundError:
        raise _Unseen("missing") from None
    if not staff.can_see(district.id):
        raise _Unseen("out_of_scope", district.id)
    return DistrictScope(district, integration)


def _run_for(request: Request, staff: StaffViewer, run_id: str) -> RunScope:
    """The run and its district; `_Unseen` when it is missing *or* not the staff member's."""
    service = _service(request)
    try:
        run = service.runs.get(run_id)
    except NotFoundError:
        raise _Unseen("missing") from None
    if not staff.can_see(run.district_id):
        raise _Unseen("out_of_scope", run.district_id)
    return RunScope(run, service.districts.get(run.district_id)[0])


# The pages' gates ------------------------------------------------------------------------------
def require_staff(request: Request) -> StaffViewer:
    """A staff session, else the staff sign-in page, back here afterwards."""
    service = _service(request)
    staff: StaffViewer | None = service.staff.viewer(request.cookies.get(_cookies(request).session))
    if staff is None:
        raise PageError(location=f"/staff/login?next={quote(request.url.path, safe='/')}")
    return staff


Staff = Annotated[StaffViewer, Depends(require_staff)]


def require_vendor_staff(staff: Staff) -> StaffViewer:
    """Vendor staff, else a 403 page."""
    if not staff.is_vendor_staff:
        raise PageError(
            status=403,
            title="Vendor staff only",
            message="Only vendor staff create districts. Your own district's onboarding "
            "steps are on its page: go back to your districts.",
        )
    return staff


VendorStaff = Annotated[StaffViewer, Depends(require_vendor_staff)]


def require_district_in_scope(request: Request, slug: str, staff: Staff) -> DistrictScope:
    """The `{slug}` district, if the staff member may see it; else the 404 page."""
    try:
        return _district_for(request, staff, slug)
    except _Unseen as unseen:
        raise not_found(unseen.reason, staff, unseen.district_id) from None


DistrictInScope = Annotated[DistrictScope, Depends(require_district_in_scope)]


def require_scoped_district(found: DistrictInScope) -> DistrictRecord:
    """The district record of `DistrictInScope`."""
    return found.district


ScopedDistrict = Annotated[DistrictRecord, Depends(require_scoped_district)]


def require_vendor_district(staff: Staff, found: DistrictInScope) -> DistrictScope:
    """`DistrictInScope` for vendor staff; a data manager gets the same 404 page."""
    if not staff.is_vendor_staff:
        raise not_found("vendor_only", staff, found.district.id)
    return found


VendorDistrict = Annotated[DistrictScope, Depends(require_vendor_district)]


def require_run_in_scope(request: Request, run_id: str, staff: Staff) -> RunScope:
    """The `{run_id}` run, if its district is in the staff member's scope; else the 404 page."""
    try:
        return _run_for(request, staff, run_id)
    except _Unseen as unseen:
        raise not_found(unseen.reason, staff, unseen.district_id) from None


RunInScope = Annotated[RunScope, Depends(require_run_in_scope)]


def require_form_csrf(staff: Staff, csrf: Annotated[str, Form(max_length=200)] = "") -> StaffViewer:
    """Staff whose form carries the session's CSRF token, else a 403 page."""
    if not tokens_match(csrf, staff.csrf_token):
        raise PageError(status=403, title="Please try again", message=EXPIRED)
    return staff


FormCsrf = Annotated[StaffViewer, Depends(require_form_csrf)]
FieldsCheck = Callable[[dict[str, str]], None]


def require_upload_csrf(staff: Staff) -> FieldsCheck:
    """The CSRF check of a streamed upload, to run on the fields before the file's part."""

    def check(fields: dict[str, str]) -> None:
        if not tokens_match(fields.get("csrf", ""), staff.csrf_token):
            raise PageError(
                status=403,
                title="Please try again",
                message="This form expired. Go back, reload the page and upload the file again.",
            )

    return check


UploadCsrf = Annotated[FieldsCheck, Depends(require_upload_csrf)]


def signed_in_viewer(request: Request) -> Viewer | None:
    """The educator or student signed in through ClassLink or Clever, or None."""
    service = _service(request)
    found: Viewer | None = service.signin.viewer(request.cookies.get(_cookies(request).session))
    return found


SignedInViewer = Annotated[Viewer | None, Depends(signed_in_viewer)]


def login_binding(request: Request) -> str:
    """The browser's login-binding cookie, or a fresh random value when it sent none: a login
    started elsewhere can never match it, and a login started now is bound to it (login CSRF)."""
    return request.cookies.get(_cookies(request).login) or secrets.token_urlsafe(32)


LoginBinding = Annotated[str, Depends(login_binding)]


def require_viewer_form_csrf(
    who: SignedInViewer, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Viewer:
    """A signed-in viewer whose form carries their CSRF token: else the login page, or 403."""
    if who is None:
        raise PageError(location="/login")
    if not tokens_match(csrf, who.csrf_token):
        raise PageError(
            status=403,
            title="Please try again",
            message="This form expired. Go back to your home page and submit it again.",
            ref="csrf",
        )
    return who


ViewerFormCsrf = Annotated[Viewer, Depends(require_viewer_form_csrf)]


def login_form_fresh(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> bool:
    """Whether a staff sign-in form's token matches the cookie set with the form."""
    return tokens_match(csrf, request.cookies.get(_cookies(request).staff_login) or "")


LoginFormFresh = Annotated[bool, Depends(login_form_fresh)]


def from_loopback(request: HTTPConnection) -> bool:
    """Whether the request comes from this machine."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_reader(request: Request) -> bool:
    """Whether the request may read /metrics: from loopback while `metrics_from_loopback` is on,
    or with a vendor staff session (the route answers everyone else 403)."""
    service = _service(request)
    if service.settings.metrics_from_loopback and from_loopback(request):
        return True
    staff: StaffViewer | None = service.staff.viewer(request.cookies.get(_cookies(request).session))
    return staff is not None and staff.is_vendor_staff


MetricsReader = Annotated[bool, Depends(metrics_reader)]


# The push endpoint's gate (web/push.py): HTTP Basic with the district's push key --------------
REALM = 'Basic realm="rostersync push", charset="UTF-8"'


def basic_credentials(request: HTTPConnection) -> tuple[str, str] | None:
    """The (key id, secret) of an HTTP Basic `Authorization` header, or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 1024:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key_id, colon, secret = decoded.partition(":")
    return (key_id, secret) if colon and key_id and secret else None


class PushCaller(NamedTuple):
    """The district whose current push key a request carries, and the key's id."""

    district: DistrictRecord
    key_id: str


async def require_push_key(request: Request, slug: str) -> PushCaller:
    """The `{slug}` district's push key and secret as HTTP Basic, else 401: the same 401 for
    every cause, so nothing tells which part was wrong or which slugs exist."""
    creds = basic_credentials(request)
    if creds is not None:
        service = _service(request)
        district = await run_in_threadpool(service.push.check_credentials, slug, *creds)
        if district is not None:
            return PushCaller(district, creds[0])
    raise HTTPException(
        401,
        "send the district's push key and secret as HTTP Basic",
        headers={"WWW-Authenticate": REALM},
    )


PushKey = Annotated[PushCaller, Depends(require_push_key)]


# The JSON API's gates -------------------------------------------------------------------------
class _SessionCookie(APIKeyCookie):
    """The staff session cookie as the API document's `staffSession` scheme; the cookie's name
    comes from the settings (the API app writes it into its document)."""

    async def __call__(self, request: HTTPConnection) -> str | None:
        return request.cookies.get(_cookies(request).session)


staff_session = _SessionCookie(
    name="rostersync_session",
    scheme_name="staffSession",
    description="The staff session, set by signing in at /staff/login. Every write also sends "
    "the session's CSRF token as `X-CSRF-Token` (`GET /v1/session` returns it).",
    auto_error=False,
)


class _BearerToken(HTTPBearer):
    """A personal API token as `Authorization: Bearer rs_…`: the API document's `apiToken`
    scheme. Any `Bearer` header counts, an empty one too (then it is refused), so a request that
    names a token is judged by that token alone, never by a cookie it also carries."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=value.strip()[:1024])


api_token = _BearerToken(
    scheme_name="apiToken",
    bearerFormat="rs_…",
    description="A personal API token, sent as `Authorization: Bearer rs_…`. Signed-in vendor "
    "staff and data managers make one at /admin/api-tokens (shown once; revoke it there). It "
    "reaches what its owner's session would, and needs no `X-CSRF-Token`.",
    auto_error=False,
)
# What a 401 of the API says it takes (RFC 6750); a refused token adds `error="invalid_token"`.
BEARER_CHALLENGE = 'Bearer realm="rostersync api"'


class ApiCaller(NamedTuple):
    """The staff member behind an API request, and whether a personal API token (not the
    session cookie) says so."""

    staff: StaffViewer
    by_token: bool


def api_caller(
    request: Request,
    session: Annotated[str | None, Depends(staff_session)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(api_token)],
) -> ApiCaller:
    """The caller by their bearer token when they send one (a refused token is a 401 logged under
    a reference of its own, whatever cookie comes with it), else by their session; else 401."""
    service = _service(request)
    if bearer is not None:
        try:
            staff = ApiTokens(service.engine).authenticate(bearer.credentials)
        except ApiTokenRefused as exc:
            record_refusal(exc, service.settings)
            raise HTTPException(
                401,
                str(exc),
                headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'},
            ) from None
        return ApiCaller(staff, by_token=True)
    found: StaffViewer | None = service.staff.viewer(session)
    if found is None:
        raise HTTPException(
            401, "sign in at /staff/login first", headers={"WWW-Authenticate": BEARER_CHALLENGE}
        )
    return ApiCaller(found, by_token=False)


ApiCall = Annotated[ApiCaller, Depends(api_caller)]


def require_api_staff(caller: ApiCall) -> StaffViewer:
    """A staff session or a personal API token, else 401."""
    return caller.staff


ApiStaff = Annotated[StaffViewer, Depends(require_api_staff)]


def require_header_csrf(
    caller: ApiCall, staff: ApiStaff, x_csrf_token: Annotated[str, Header(max_length=200)] = ""
) -> StaffViewer:
    """Staff who sent the session's CSRF token as `X-CSRF-Token`, else 403; a call made with an
    API token needs none: a forged request borrows what the browser adds by itself (the cookie),
    and no browser adds a token by itself; a page would have to know it to send it."""
    if caller.by_token:
        return staff
    if not tokens_match(x_csrf_token, staff.csrf_token):
        raise HTTPException(403, "send the session's csrf_token (GET /api/v1/session)")
    return staff


HeaderCsrf = Annotated[StaffViewer, Depends(require_header_csrf)]


def require_api_district(request: Request, slug: str, staff: ApiStaff) -> DistrictScope:
    """The `{slug}` district, if the staff member may see it; else 404."""
    try:
        return _district_for(request, staff, slug)
    except _Unseen as unseen:
        reference = trace_refusal(unseen.reason, staff, unseen.district_id)
        raise HTTPException(404, f"no such district (reference {reference})") from None


ApiDistrictInScope = Annotated[DistrictScope, Depends(require_api_district)]


def require_api_run(request: Request, run_id: str, staff: ApiStaff) -> RunScope:
    """The `{run_id}` run, if its district is in the staff member's scope; else 404."""
    try:
        return _run_for(request, staff, run_id)
    except _Unseen as unseen:
        reference = trace_refusal(unseen.reason, staff, unseen.district_id)
        raise HTTPException(404, f"no such run (reference {reference})") from None


ApiRunInScope = Annotated[RunScope, Depends(require_api_run)]


__all__ = [
    "BEARER_CHALLENGE",
    "REALM",
    "ApiCall",
    "ApiCaller",
    "ApiDistrictInScope",
    "ApiRunInScope",
    "ApiStaff",
    "DistrictInScope",
    "DistrictScope",
    "FieldsCheck",
    "FormCsrf",
    "HeaderCsrf",
    "LoginBinding",
    "LoginFormFresh",
    "MetricsReader",
    "PageError",
    "PushCaller",
    "PushKey",
    "RunInScope",
    "RunScope",
    "ScopedDistrict",
    "SignedInViewer",
    "Staff",
    "UploadCsrf",
    "VendorDistrict",
    "VendorStaff",
    "ViewerFormCsrf",
    "api_token",
    "basic_credentials",
    "from_loopback",
    "not_found",
    "serve",
    "staff_session",
    "tokens_match",
    "trace_refusal",
]
