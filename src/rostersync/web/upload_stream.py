"""Receiving one uploaded file from a `multipart/form-data` body, a chunk at a time, capped.

FastAPI reads (and spools to disk) a whole form before any dependency runs, so a route that
declares `File()` would take a 200 MiB body from anyone before telling them they are not signed
in. The import routes declare no body instead: their dependencies check the session, the
district's scope and (for the API) the CSRF header first, then call `receive_file`, which

1. refuses a `Content-Length` over the limit (plus room for the form's boundaries) at once,
2. reads the form's small fields (the page's `csrf`), and calls `before_file` with them the
   moment the file's part begins, before a byte of the file is kept: a wrong token stops the
   upload there,
3. counts bytes as they stream (a chunked body has no `Content-Length`) and stops with
   `UploadTooLarge` as soon as the file, or the body, passes the limit.

The file is kept in memory: the limit (`max_import_bytes`, a few MiB) bounds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

# Room for the form's boundaries, part headers and small fields around the file itself.
FORM_OVERHEAD = 64 * 1024
# The largest small field (the CSRF token is 43 characters) and how many there may be.
MAX_FIELD_BYTES = 1024
MAX_FIELDS = 16


class UploadTooLarge(Exception):
    """The upload is over the limit (declared up front, or counted while streaming)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is over the {limit} byte limit")
        self.limit = limit


class UploadMalformed(Exception):
    """The body is not a usable form with a file in it; the message says how to send one."""


@dataclass(slots=True)
class ReceivedFile:
    """The uploaded file, its name as the browser gave it, and the form's small fields."""

    filename: str
    data: bytes
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Parts:
    """What the streaming parser has seen so far."""

    file_field: str
    limit: int
    before_file: Callable[[dict[str, str]], None] | None
    fields: dict[str, str] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)
    in_file: bool = False
    file_seen: bool = False
    file_name: str = "upload"
    file: bytearray = field(default_factory=bytearray)

    def part_begin(self) -> None:
        self.headers, self.value, self.in_file = {}, bytearray(), False

    def header_field_data(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field, self.header_value = b"", b""

    def headers_finished(self) -> None:
        _kind, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        self.filename = None if raw_filename is None else raw_filename.decode("utf-8", "replace")
        if self.name == self.file_field and not self.file_seen:
            # The file begins: everything that gates it is known now (the fields before it).
            if self.before_file is not None:
                self.before_file(dict(self.fields))
            self.in_file = self.file_seen = True
            self.file_name = self.filename or "upload"

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.file += data[start:end]
            if len(self.file) > self.limit:
                raise UploadTooLarge(self.limit)
        elif self.filename is None:
            self.value += data[start:end]
            if len(self.value) > MAX_FIELD_BYTES:
                raise UploadMalformed(
                    f"the form field {self.name[:40]!r} is over {MAX_FIELD_BYTES} bytes; only "
                    "the file may be large"
                )
        # Any other file part is not read into anything.

    def part_end(self) -> None:
        if self.in_file:
            self.in_file = False
        elif self.filename is None and self.name and len(self.fields) < MAX_FIELDS:
            self.fields.setdefault(self.name, self.value.decode("utf-8", "replace"))


async def receive_file(
    request: Request,
    *,
    limit: int,
    file_field: str = "file",
    before_file: Callable[[dict[str, str]], None] | None = None,
) -> ReceivedFile:
    """Read the form's `file_field` file, never more than `limit` bytes of it.

    Args:
        request: The request whose body is the form; nothing of it was read yet.
        limit: The most bytes the file may have.
        file_field: The form field that holds the file.
        before_file: Called with the small fields sent before the file, as the file begins;
            whatever it raises stops the upload there (a wrong CSRF token, say).

    Raises:
        UploadTooLarge: The declared length, the body or the file is over the limit.
        UploadMalformed: Not a multipart form, a broken one, one without the file, or the
            upload was interrupted.
    """
    media, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise UploadMalformed(
            f"send the file as the `{file_field}` field of a multipart/form-data form"
        )
    body_limit = limit + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_limit:
        raise UploadTooLarge(limit)
    parts = _Parts(file_field=file_field, limit=limit, before_file=before_file)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": parts.part_begin,
            "on_header_field": parts.header_field_data,
            "on_header_value": parts.header_value_data,
            "on_header_end": parts.header_end,
            "on_headers_finished": parts.headers_finished,
            "on_part_data": parts.part_data,
            "on_part_end": parts.part_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise UploadTooLarge(limit)
            parser.write(chunk)
        parser.finalize()
    except ParseError:
        raise UploadMalformed(
            f"the multipart/form-data body is malformed; send the file as the `{file_field}` "
            "field of a well-formed form"
        ) from None
    except ClientDisconnect:
        raise UploadMalformed("the upload was interrupted; upload the file again") from None
    if not parts.file_seen:
        raise UploadMalformed(f"the form has no `{file_field}` field with the file")
    return ReceivedFile(filename=parts.file_name, data=bytes(parts.file), fields=parts.fields)


__all__ = ["FORM_OVERHEAD", "ReceivedFile", "UploadMalformed", "UploadTooLarge", "receive_file"]
