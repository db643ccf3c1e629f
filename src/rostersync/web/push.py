"""Where a district pushes its OneRoster CSV bundles: `POST /api/v1/districts/{slug}/bundles`.

Served by the admin API app (`web/api.py`) and described in its OpenAPI document: the bodies
it takes (read here by hand, so they are declared for the document in `PUSH_BODY`), every status
it answers with, and its HTTP Basic scheme (`pushKey`).

For districts that cannot give us ClassLink credentials: their SIS or a script uploads a bundle
(the zip, as `application/zip` or as the `file` field of a `multipart/form-data` form) with the
push key and secret we issued them (`rostersync push-key issue <slug>`) as HTTP Basic. The
response is 202 with the bundle's id and its status URL, `GET .../bundles/{id}` (same
credentials), which says queued, running, succeeded, failed or held, and the sync run's id. A
held bundle becomes succeeded (with the run that applied it) when vendor staff approve its run,
or discarded when they discard it.

The order of the checks is the point:

1. Credentials first (the `PushKey` gate of `web/gates.py`), before a byte of the body is read: a
   missing or wrong key or secret, a key of another district, a rotated-away secret and an
   unknown district are all the same 401 with `WWW-Authenticate`, so nothing tells a caller
   which part was wrong or which slugs exist.
2. Size: a `Content-Length` over `push_max_bundle_bytes` is a 413 at once; a body that grows
   past it while streaming is cut off with the same 413. The body goes straight to a private
   file in the district's push folder, never into memory whole.
3. The bundle is read through once (manifest, required files, headers, encodings, row widths);
   a refusal is a 422 naming the file and line and saying how to fix it, and the file is deleted:
   nothing is recorded, nothing queued.
4. Only then is it renamed into place, recorded and queued (see `Services.push.accept`).

One bundle per district waits at a time: while the previous one is queued or running, a new push
gets 409 with `Retry-After` and the waiting bundle's status URL. We chose refusing over queueing a
second sync because the newer file supersedes the older anyway, a client retrying in a loop
cannot pile up syncs, and the district sees at once that its previous push has not finished.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import hashlib
import os
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from rostersync.errors import BundlePushRefused, NotFoundError
from rostersync.oneroster.bundle import BundleError
from rostersync.services import Services
from rostersync.web.gates import PushKey, basic_credentials

# The HTTP Basic parsing, under the name its unit tests import.
_basic = basic_credentials

log = structlog.get_logger(__name__)

ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/octet-stream")
# Room for a multipart form's boundaries and part headers around the zip itself.
FORM_OVERHEAD = 64 * 1024
RETRY_AFTER_SECONDS = 60


class PushedBundleOut(BaseModel):
    """A pushed bundle and how its sync went; `run_id` is set once its sync run started."""

    id: str
    status: str
    run_id: str | None
    received_at: datetime
    finished_at: datetime | None
    sha256: str
    size: int
    error: str | None
    status_url: str


class PushProblemOut(BaseModel):
    """A refused push: what was wrong and how to fix it, with where (a bundle's file, line and
    column), the waiting bundle's status URL (409, 503) or the limit (413) when they apply."""

    detail: str
    file: str | None = None
    line: int | None = None
    column: str | None = None
    status_url: str | None = None
    limit_bytes: int | None = None


def _problem_doc(description: str) -> dict[str, Any]:
    return {"model": PushProblemOut, "description": description}


UNAUTHORIZED = _problem_doc(
    "No push key and secret, a wrong one, one of another district, or no such district"
)
PUSH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("A malformed multipart form, or the upload was interrupted"),
    401: UNAUTHORIZED,
    409: _problem_doc("The district's previous bundle is still queued or running"),
    413: _problem_doc("The bundle is over `push_max_bundle_bytes`"),
    415: _problem_doc("Neither application/zip nor multipart/form-data"),
    422: _problem_doc("The bundle was refused (file, line and how to fix it); nothing kept"),
    503: _problem_doc("The bundle could not be queued now; push it again later"),
}
_ZIP = {"schema": {"type": "string", "format": "binary"}}
PUSH_BODY: dict[str, Any] = {
    "security": [{"pushKey": []}],
    "requestBody": {
        "required": True,
        "description": "The OneRoster CSV bundle (a zip), as the body or as the `file` field.",
        "content": {
            **{kind: _ZIP for kind in ZIP_TYPES},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    },
}


class _TooLarge(Exception):
    """The body grew past the limit while it was being received."""


def _problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    headers: dict[str, str] = {}
    if status in (409, 503):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _status_url(slug: str, bundle_id: str) -> str:
    return f"/api/v1/districts/{slug}/bundles/{bundle_id}"


def _bundle_out(slug: str, bundle: Any) -> PushedBundleOut:
    return PushedBundleOut(
        id=bundle.id,
        status=bundle.status,
        run_id=bundle.run_id,
        received_at=bundle.received_at,
        finished_at=bundle.finished_at,
        sha256=bundle.sha256,
        size=bundle.size,
        error=bundle.error,
        status_url=_status_url(slug, bundle.id),
    )


class _Receiver:
    """Writes an upload to a private file, counting bytes and hashing as it goes."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()
        # O_EXCL and 0600: the file is new and only this service reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLarge
        self.digest.update(data)
        self._file.write(data)

    def close(self) -> None:
        self._file.close()


def _form_writer(boundary: bytes, receiver: _Receiver) -> tuple[MultipartParser, Callable[[], int]]:
    """A streaming multipart parser that sends the first file part (or the `file` field) to
    `receiver`; the second value says how many such parts were seen."""
    state: dict[str, Any] = {"field": b"", "value": b"", "headers": {}, "active": False, "n": 0}

    def on_part_begin() -> None:
        state["headers"] = {}
        state["active"] = False

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        _kind, options = parse_options_header(state["headers"].get(b"content-disposition", b""))
        is_file = options.get(b"name") == b"file" or b"filename" in options
        state["active"] = is_file and state["n"] == 0
        if state["active"]:
            state["n"] += 1

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["active"]:
            receiver.write(data[start:end])

    def on_part_end() -> None:
        state["active"] = False

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    return parser, lambda: int(state["n"])


def create_push_router(service: Services) -> APIRouter:
    """The push endpoint and its status URL, to include in the portal app before `/api`.

    Args:
        service: The service API every route calls.
    """
    # Under the API app's `/api` mount: /api/v1/districts/{slug}/bundles.
    router = APIRouter(prefix="/v1/districts/{slug}/bundles", tags=["push"])
    limit = service.settings.push_max_bundle_bytes

    @router.post(
        "",
        status_code=202,
        response_model=PushedBundleOut,
        responses=PUSH_RESPONSES,
        openapi_extra=PUSH_BODY,
    )
    async def push_bundle(request: Request, caller: PushKey) -> JSONResponse:
        district, key_id = caller
        media, options = parse_options_header(request.headers.get("content-type", ""))
        form = media == b"multipart/form-data"
        if not form and media.decode("latin-1") not in ZIP_TYPES:
            return _problem(
                415,
                "send the bundle as application/zip (the zip itself as the body) or as the "
                "`file` field of a multipart/form-data form",
            )
        too_large = _problem(
            413,
            f"the bundle is over the {limit} byte limit for a push; split the roster or ask "
            "the vendor to raise ROSTERSYNC_PUSH_MAX_BUNDLE_BYTES",
            limit_bytes=limit,
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + (FORM_OVERHEAD if form else 0):
            return too_large
        if form and not options.get(b"boundary"):
            return _problem(400, "the multipart/form-data request has no boundary")
        folder = service.push.bundle_dir(district.id)
        upload = folder / f".incoming-{uuid.uuid4()}.part"
        receiver = _Receiver(upload, limit)
        try:
            try:
                if form:
                    parser, files = _form_writer(options[b"boundary"], receiver)
                    received = 0
                    async for chunk in request.stream():
                        received += len(chunk)
                        if received > limit + FORM_OVERHEAD:
                            raise _TooLarge
                        parser.write(chunk)
                    parser.finalize()
                    if files() == 0:
                        return _problem(422, "the form has no `file` field with the bundle")
                else:
                    async for chunk in request.stream():
                        receiver.write(chunk)
            finally:
                receiver.close()
            if receiver.size == 0:
                return _problem(422, "the request has no bundle in it; send the zip as the body")
            bundle = await run_in_threadpool(
                service.push.accept,
                district.id,
                upload,
                sha256=receiver.digest.hexdigest(),
                actor=f"push:{key_id}",
            )
        except _TooLarge:
            return too_large
        except ParseError:
            return _problem(
                400,
                "the multipart/form-data body is malformed; send the zip as the `file` field of "
                "a well-formed form, or as the body with Content-Type: application/zip",
            )
        except ClientDisconnect:
            log.info("push.disconnected", district_id=district.id)
            return _problem(400, "the upload was interrupted; push the bundle again")
        except BundleError as exc:
            log.info("push.refused", district_id=district.id, file=exc.file, line=exc.line)
            return _problem(422, str(exc), file=exc.file, line=exc.line, column=exc.column)
        except BundlePushRefused as exc:
            url = _status_url(district.slug, exc.bundle_id)
            return _problem(409 if exc.busy else 503, str(exc), status_url=url)
        finally:
            upload.unlink(missing_ok=True)
        out = _bundle_out(district.slug, bundle)
        return JSONResponse(
            out.model_dump(mode="json"), status_code=202, headers={"Location": out.status_url}
        )

    @router.get(
        "/{bundle_id}",
        response_model=PushedBundleOut,
        responses={401: UNAUTHORIZED, 404: _problem_doc("No such bundle in this district")},
        openapi_extra={"security": [{"pushKey": []}]},
    )
    async def bundle_status(caller: PushKey, bundle_id: str) -> Any:
        district = caller.district
        try:
            bundle = await run_in_threadpool(service.push.bundle, district.id, bundle_id)
        except NotFoundError as exc:
            return _problem(404, str(exc))
        return _bundle_out(district.slug, bundle)

    return router


__all__ = ["PushProblemOut", "PushedBundleOut", "create_push_router"]
