"""Import uploads are refused before their body is read, and capped while they stream.

A real portal on loopback; the requests are written on a raw socket, so a test can declare a
200 MiB body, send only its first 64 KiB, and wait for the answer: an answer that arrives then
was given without reading the body (a server that read it first would still be waiting for the
rest). Without the gates in web/uploads.py and web/api.py, FastAPI read the whole form (spooled
to disk) before it checked the session, so these waits timed out.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, form_csrf

from rostersync.demo.sandbox import Sandbox

LIMIT = 256 * 1024  # max_import_bytes in this world
HUGE = 200 * 1024 * 1024
CHUNK = 64 * 1024
OFFERED = 64 * 1024 * 1024  # what a chunked upload would send if nobody stopped it
BOUNDARY = "rostersyncgate"
ANSWER_WITHIN = 10.0  # seconds; an early answer comes in milliseconds, a late one never


@dataclass
class Answer:
    """What the portal answered, and how many body bytes had been sent when it did."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent: int


@dataclass
class GateWorld:
    """The portal's address and each staff member's session cookie and CSRF token."""

    url: str
    cookies: dict[str, str] = field(default_factory=dict)  # email -> session cookie
    csrf: dict[str, str] = field(default_factory=dict)  # email -> the session's CSRF token


VENDOR = "vendor@portal.example"
DM_SHELBYVILLE = "dm@shelbyville.example"


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Springfield and Shelbyville, synced, with max_import_bytes at 256 KiB."""
    tmp: Path = tmp_path_factory.mktemp("gates")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        sso_timeout_seconds=2.0,
        max_import_bytes=LIMIT,
    )
    districts = sandboxes.springfield_and_shelbyville(5)
    with Sandbox(settings, districts) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def gates(world: Sandbox) -> GateWorld:
    """Vendor staff and Shelbyville's data manager, signed in once for the module."""
    service = world.service
    assert service is not None
    gate = GateWorld(world.url)
    for email, role, district in (
        (VENDOR, "vendor_staff", None),
        (DM_SHELBYVILLE, "data_manager", "shelbyville"),
    ):
        service.staff.add_staff(
            email=email, display_name="Pat Staff", role=role, password=PASSWORD,
            district=district,
        )  # fmt: skip
        with httpx.Client(base_url=world.url, timeout=30) as client:
            csrf = form_csrf(client.get("/staff/login").text)
            signed_in = client.post(
                "/staff/login", data={"email": email, "password": PASSWORD, "csrf": csrf}
            )
            assert signed_in.status_code == 303, signed_in.text
            gate.cookies[email] = client.cookies["rostersync_session"]
            gate.csrf[email] = client.get("/api/v1/session").json()["csrf_token"]
    return gate


# Writing requests by hand ----------------------------------------------------------------------
def _read_answer(sock: socket.socket, sent: int) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        ready, _, _ = select.select([sock], [], [], ANSWER_WITHIN)
        assert ready, f"no answer within {ANSWER_WITHIN} s after {sent:,} body bytes"
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed with no answer after {sent:,} body bytes"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        ready, _, _ = select.select([sock], [], [], ANSWER_WITHIN)
        chunk = sock.recv(65536) if ready else b""
        if not chunk:
            break
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body, sent)


def _send_until_answered(sock: socket.socket, pieces: list[bytes], declared: int | None) -> int:
    """Send the pieces (as chunks when `declared` is None) while the portal has not answered;
    returns how many body bytes went out. Never blocks on a write, so an answer is seen as
    soon as it comes."""
    sent = 0
    for piece in pieces:
        frame = piece if declared is not None else b"%x\r\n%s\r\n" % (len(piece), piece)
        while frame:
            readable, writable, _ = select.select([sock], [sock], [], ANSWER_WITHIN)
            if readable:
                return sent  # answered: send nothing more
            if writable:
                try:
                    frame = frame[sock.send(frame) :]
                except (BrokenPipeError, ConnectionResetError):
                    return sent
        sent += len(piece)
    return sent


def send(
    target: GateWorld,
    path: str,
    *,
    preamble: bytes = b"",
    declared: int | None = HUGE,
    email: str | None = None,
    csrf_header: bool = True,
    filler: int = CHUNK,
) -> Answer:
    """POST a multipart form to `path`: its `preamble` (parts before the file's bytes), then
    `filler` bytes of file, then wait for the answer without sending more.

    `declared` is the Content-Length (None: chunked, and the filler is sent a chunk at a time
    until the portal answers). `email` signs the request in with that staff member's cookie,
    and, with `csrf_header`, their CSRF token as `X-CSRF-Token`.
    """
    parts = urlsplit(target.url)
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
    ]
    headers.append(
        "Transfer-Encoding: chunked" if declared is None else f"Content-Length: {declared}"
    )
    if email is not None:
        headers.append(f"Cookie: rostersync_session={target.cookies[email]}")
        if csrf_header:
            headers.append(f"X-CSRF-Token: {target.csrf[email]}")
    head = ("\r\n".join(headers) + "\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(head)
        sent = _send_until_answered(sock, [preamble] + [b"x" * CHUNK] * (filler // CHUNK), declared)
        return _read_answer(sock, sent)


def file_part(name: str = "staff.csv") -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()


def csrf_part(token: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
    ).encode()


API = "/api/v1/districts/springfield/imports"
PAGE = "/admin/districts/springfield/import"


# The gates, before the body ----------------------------------------------------------------------
class TestRefusedBeforeTheBody:
    """No session, another district, no CSRF token: refused with 200 MiB declared and 64 KiB
    sent, so the answer came before the body was read."""

    def test_the_api_answers_401_without_a_cookie(self, gates: GateWorld) -> None:
        answer = send(gates, API, preamble=file_part())
        assert answer.status == 401
        assert answer.sent < LIMIT

    def test_the_page_sends_a_signed_out_browser_to_sign_in(self, gates: GateWorld) -> None:
        answer = send(gates, PAGE, preamble=file_part())
        assert answer.status == 303
        assert answer.headers["location"].startswith("/staff/login?next=")

    def test_another_districts_data_manager_gets_404_from_both(self, gates: GateWorld) -> None:
        for path in (API, PAGE):
            answer = send(gates, path, preamble=file_part(), email=DM_SHELBYVILLE)
            assert answer.status == 404, path

    def test_the_api_refuses_a_write_without_the_csrf_header(self, gates: GateWorld) -> None:
        answer = send(gates, API, preamble=file_part(), email=VENDOR, csrf_header=False)
        assert answer.status == 403
        assert b"csrf_token" in answer.body

    def test_the_page_refuses_a_wrong_csrf_field_as_the_file_begins(self, gates: GateWorld) -> None:
        # Declared under the limit, so only the token can stop it: the answer comes as the
        # file's part begins, with most of the declared body never sent.
        answer = send(
            gates,
            PAGE,
            preamble=csrf_part("not-the-token") + file_part(),
            declared=LIMIT,
            email=VENDOR,
            filler=CHUNK,
        )
        assert answer.status == 403
        assert b"This form expired" in answer.body


# The cap, while streaming ------------------------------------------------------------------------
class TestTheCap:
    """A signed-in upload over max_import_bytes is a 413, declared or counted as it streams."""

    def test_a_declared_length_over_the_limit_is_413_at_once(self, gates: GateWorld) -> None:
        answer = send(
            gates, API, preamble=file_part(), declared=LIMIT * 4, email=VENDOR, filler=CHUNK
        )
        assert answer.status == 413
        assert answer.sent < LIMIT
        body = httpx.Response(413, content=answer.body).json()
        assert body["limit_bytes"] == LIMIT
        assert "ROSTERSYNC_MAX_IMPORT_BYTES" in body["detail"]
        assert "split it into several files" in body["detail"]

    def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(self, gates: GateWorld) -> None:
        answer = send(gates, API, preamble=file_part(), declared=None, email=VENDOR, filler=OFFERED)
        assert answer.status == 413
        # The answer came while the body was still streaming: past the limit, long before the
        # end of what was on offer (what is in between sat in the sockets' buffers).
        assert LIMIT <= answer.sent < OFFERED // 2

    def test_the_page_shows_the_limit_and_the_fix(self, gates: GateWorld) -> None:
        token = gates.csrf[VENDOR]
        answer = send(
            gates,
            PAGE,
            preamble=csrf_part(token) + file_part(),
            declared=None,
            email=VENDOR,
            filler=OFFERED,
        )
        assert answer.status == 413
        page = answer.body.decode()
        assert "The file was refused" in page
        assert "over the 256 KB limit for one import" in page
        assert "ROSTERSYNC_MAX_IMPORT_BYTES" in page
        # The form says the limit before anyone uploads.
        assert "Up to 5,000 staff and 256 KB per file." in page

    def test_a_file_under_the_limit_is_still_read_and_judged(self, gates: GateWorld) -> None:
        with httpx.Client(base_url=gates.url, timeout=30) as client:
            client.cookies.set("rostersync_session", gates.cookies[VENDOR])
            response = client.post(
                API,
                headers={"X-CSRF-Token": gates.csrf[VENDOR]},
                files={"file": ("staff.csv", b"first_name\nRobin\n", "text/csv")},
            )
        assert response.status_code == 422  # read whole, then refused for its columns
        assert "the header row has no" in response.json()["detail"]

    def test_a_form_without_the_file_is_a_clear_400(self, gates: GateWorld) -> None:
        with httpx.Client(base_url=gates.url, timeout=30) as client:
            client.cookies.set("rostersync_session", gates.cookies[VENDOR])
            response = client.post(
                API,
                headers={"X-CSRF-Token": gates.csrf[VENDOR]},
                files={"other": ("x.txt", b"x", "text/plain")},
            )
        assert response.status_code == 400
        assert response.json()["detail"] == "the form has no `file` field with the file"
