"""Receiving one file from a multipart form a chunk at a time (web/upload_stream.py).

Each test builds a real Starlette request over an ASGI `receive` that hands out the body in
small chunks, and records how much of it was handed out: the gates must stop the reading early.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.requests import Request

from rostersync.web.refused_request import describe
from rostersync.web.upload_stream import (
    FORM_OVERHEAD,
    UploadMalformed,
    UploadTooLarge,
    receive_file,
)

BOUNDARY = "unitboundary"


def form(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A multipart body of (field name, filename or None, content) parts."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


class Body:
    """An ASGI receive channel over `data`, `chunk` bytes at a time, counting what it gave."""

    def __init__(self, data: bytes, chunk: int = 1024) -> None:
        self.data, self.chunk, self.given = data, chunk, 0

    async def __call__(self) -> dict[str, Any]:
        piece = self.data[self.given : self.given + self.chunk]
        self.given += len(piece)
        return {"type": "http.request", "body": piece, "more_body": self.given < len(self.data)}


def request(body: Body, *, content_type: str | None = None, length: int | None = None) -> Request:
    headers = [
        (b"content-type", (content_type or f"multipart/form-data; boundary={BOUNDARY}").encode())
    ]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, body)


def receive(req: Request, **kwargs: Any) -> Any:
    # A loop of its own on a thread of its own: a browser test's Playwright may still be running
    # one on this thread when the unit tests run after it.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, receive_file(req, **kwargs)).result()


class TestReceiving:
    def test_the_file_and_the_fields_before_it(self) -> None:
        data = form(("csrf", None, b"token"), ("file", "staff.csv", b"a,b\r\n1,2"))
        got = receive(request(Body(data)), limit=1000)
        assert (got.filename, got.data, got.fields) == (
            "staff.csv",
            b"a,b\r\n1,2",
            {"csrf": "token"},
        )

    def test_a_second_file_is_not_kept(self) -> None:
        data = form(("file", "one.csv", b"one"), ("file", "two.csv", b"two" * 500))
        got = receive(request(Body(data)), limit=100)
        assert (got.filename, got.data) == ("one.csv", b"one")

    def test_the_gate_sees_the_fields_before_any_of_the_file(self) -> None:
        data = form(("csrf", None, b"wrong"), ("file", "staff.csv", b"x" * 200_000))
        body = Body(data)
        seen: list[dict[str, str]] = []

        def gate(fields: dict[str, str]) -> None:
            seen.append(fields)
            raise PermissionError("refused")

        with pytest.raises(PermissionError):
            receive(request(body), limit=1_000_000, before_file=gate)
        assert seen == [{"csrf": "wrong"}]
        assert body.given <= 2048  # stopped within the chunk where the file began


class TestRefusing:
    def test_a_declared_length_over_the_limit_reads_nothing(self) -> None:
        body = Body(form(("file", "f.csv", b"x" * 10)))
        with pytest.raises(UploadTooLarge) as refused:
            receive(request(body, length=100 + FORM_OVERHEAD + 1), limit=100)
        assert refused.value.limit == 100 and body.given == 0

    def test_a_file_over_the_limit_stops_the_reading_there(self) -> None:
        body = Body(form(("file", "f.csv", b"x" * 1_000_000)))
        with pytest.raises(UploadTooLarge):
            receive(request(body), limit=10_000)
        assert body.given < 10_000 + 2048

    def test_a_body_over_the_limit_without_a_file_stops_too(self) -> None:
        body = Body(form(*((f"f{i}", None, b"y" * 1000) for i in range(200))))
        with pytest.raises((UploadTooLarge, UploadMalformed)):
            receive(request(body), limit=1000)
        assert body.given < 1000 + FORM_OVERHEAD + 2048

    def test_a_large_small_field_is_refused(self) -> None:
        data = form(("csrf", None, b"z" * 5000), ("file", "f.csv", b"x"))
        with pytest.raises(UploadMalformed, match="only the file may be large"):
            receive(request(Body(data)), limit=100_000)

    def test_a_form_without_the_file(self) -> None:
        with pytest.raises(UploadMalformed, match="no `file` field"):
            receive(request(Body(form(("csrf", None, b"t")))), limit=1000)

    def test_not_a_multipart_form(self) -> None:
        with pytest.raises(UploadMalformed, match="multipart/form-data"):
            receive(request(Body(b"{}"), content_type="application/json"), limit=1000)

    def test_a_broken_form(self) -> None:
        data = f"--{BOUNDARY}\r\nno headers end".encode()
        with pytest.raises(UploadMalformed):
            receive(request(Body(data)), limit=1000)


class TestDescribingInvalidRequests:
    def test_names_the_field_and_where_never_the_value(self) -> None:
        errors = [
            {
                "loc": ("query", "code"),
                "msg": "String should have at most 2000 characters",
                "input": "SECRET-VALUE",
            }
        ]
        text = describe(errors)
        assert text == "`code` in the address (String should have at most 2000 characters)"
        assert "SECRET-VALUE" not in text

    def test_lists_three_then_counts_the_rest(self) -> None:
        errors = [{"loc": ("body", f"f{i}"), "msg": "Field required"} for i in range(5)]
        assert describe(errors).endswith("; and 2 more")
