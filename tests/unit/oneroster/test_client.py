"""The OneRoster client pages, signs, retries and classifies failures as the protocol needs."""

from __future__ import annotations

import hmac
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import structlog

from rostersync.errors import (
    ConfigError,
    FatalSourceError,
    IncompleteSourceError,
    RetriableSourceError,
    SourceAuthError,
)
from rostersync.oneroster import oauth1
from rostersync.oneroster.auth import OAuth1Auth
from rostersync.oneroster.client import OneRosterClient, parse_retry_after, status_info

KEY, SECRET = "client-id", "client-secret"
BASE = "https://district.example/ims/oneroster/v1p1"
FILTER = "dateLastModified>'2024-01-01T00:00:00Z' AND givenName='Jo Ann'"

Fault = httpx.Response | Exception


def verify_signature(method: str, url: str, authorization: str, secret: str = SECRET) -> bool:
    """Recompute the OAuth 1.0a signature of a received request, as a Roster Server would."""
    params = oauth1.parse_authorization_header(authorization)
    base = oauth1.signature_base_string(method, url, list(params.items()))
    expected = oauth1.sign(base, secret, method=params["oauth_signature_method"])
    return hmac.compare_digest(expected, params["oauth_signature"])


def wire_url(request: httpx.Request) -> str:
    """The URL exactly as it went on the wire (httpx keeps our encoding untouched)."""
    url = request.url
    return f"{url.scheme}://{url.netloc.decode()}{url.raw_path.decode('ascii')}"


def users(count: int) -> list[dict[str, Any]]:
    return [{"sourcedId": f"u{n:04d}", "givenName": f"Given {n}"} for n in range(count)]


def status_body(description: str, minor: str = "unauthorized") -> dict[str, Any]:
    return {
        "statusInfoSet": [
            {
                "imsx_codeMajor": "failure",
                "imsx_severity": "error",
                "imsx_CodeMinor": {
                    "imsx_codeMinorField": [
                        {
                            "imsx_codeMinorFieldName": "TargetEndSystem",
                            "imsx_codeMinorFieldValue": minor,
                        }
                    ]
                },
                "imsx_description": description,
            }
        ]
    }


class FakeRosterServer:
    """A MockTransport handler: verifies each signature, replays faults, then serves pages."""

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        *,
        envelope: str = "users",
        total: bool = True,
        link: bool = False,
        faults: list[Fault] | None = None,
    ) -> None:
        self.records = records if records is not None else users(5)
        self.envelope = envelope
        self.total = total
        self.link = link
        self.faults = list(faults or [])
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert verify_signature(request.method, wire_url(request), request.headers["Authorization"])
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        query = dict(parse_qsl(request.url.query.decode()))
        offset, limit = int(query["offset"]), int(query["limit"])
        headers = {}
        if self.total:
            headers["X-Total-Count"] = str(len(self.records))
        if self.link and offset + limit < len(self.records):
            path = request.url.path
            headers["Link"] = f'<{path}?offset={offset + limit}&limit={limit}>; rel="next"'
        body = {self.envelope: self.records[offset : offset + limit]}
        return httpx.Response(200, json=body, headers=headers)


MakeClient = Callable[..., tuple[OneRosterClient, list[float]]]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Build clients on a fake transport with recorded sleeps; close them after the test."""
    clients: list[OneRosterClient] = []

    def build(
        handler: Callable[[httpx.Request], httpx.Response], **kw: Any
    ) -> tuple[OneRosterClient, list[float]]:
        sleeps: list[float] = []
        kw.setdefault("page_size", 2)
        client = OneRosterClient(
            BASE,
            OAuth1Auth(KEY, SECRET),
            transport=httpx.MockTransport(handler),
            sleep=sleeps.append,
            rng=random.Random(7),
            **kw,
        )
        clients.append(client)
        return client, sleeps

    yield build
    for client in clients:
        client.close()


class TestPaging:
    """Pages are requested in order and every record arrives exactly once."""

    def test_paging_across_pages_collects_each_record_once(self, make_client: MakeClient) -> None:
        server = FakeRosterServer(users(5))
        client, _ = make_client(server)
        got = [r["sourcedId"] for r in client.iter_collection("users")]
        assert got == [f"u{n:04d}" for n in range(5)]
        assert [dict(parse_qsl(r.url.query.decode()))["offset"] for r in server.requests] == [
            "0",
            "2",
            "4",
        ]
        stats = client.stats["users"]
        assert (stats.requests, stats.retries, stats.pages, stats.records) == (3, 0, 3, 5)

    def test_without_a_total_a_short_page_ends_the_pull(self, make_client: MakeClient) -> None:
        client, _ = make_client(FakeRosterServer(users(4), total=False))
        assert len(list(client.iter_collection("users"))) == 4
        assert client.stats["users"].requests == 3  # the third page is empty

    def test_next_links_are_followed(self, make_client: MakeClient) -> None:
        server = FakeRosterServer(users(5), total=False, link=True)
        client, _ = make_client(server)
        assert len(list(client.iter_collection("users"))) == 5

    def test_records_short_of_the_total_raise_incomplete(self, make_client: MakeClient) -> None:
        def short(request: httpx.Request) -> httpx.Response:
            offset = int(dict(parse_qsl(request.url.query.decode()))["offset"])
            page = users(3)[offset : offset + 2] if offset < 3 else []
            return httpx.Response(200, json={"users": page}, headers={"X-Total-Count": "5"})

        client, _ = make_client(short)
        with pytest.raises(IncompleteSourceError, match="received 3 of 5 users"):
            list(client.iter_collection("users"))

    def test_each_page_sends_limit_offset_sort_order_and_filter(
        self, make_client: MakeClient
    ) -> None:
        server = FakeRosterServer(users(1))
        client, _ = make_client(server, page_size=1000)
        list(client.iter_collection("users", filter=FILTER))
        query = server.requests[0].url.query.decode()
        assert query == (
            "limit=1000&offset=0&sort=sourcedId&orderBy=asc&filter=dateLastModified%3E%27"
            "2024-01-01T00%3A00%3A00Z%27%20AND%20givenName%3D%27Jo%20Ann%27"
        )

    def test_the_sent_url_uses_percent_20_and_its_signature_verifies(
        self, make_client: MakeClient
    ) -> None:
        server = FakeRosterServer(users(1))
        client, _ = make_client(server)
        list(client.iter_collection("users", filter=FILTER))
        (request,) = server.requests
        assert "Jo%20Ann" in wire_url(request) and "+" not in wire_url(request)
        params = dict(parse_qsl(request.url.query.decode()))
        assert params["filter"] == FILTER
        assert verify_signature("GET", wire_url(request), request.headers["Authorization"])
        assert not verify_signature(
            "GET", wire_url(request), request.headers["Authorization"], secret="wrong"
        )

    def test_unknown_collection_is_refused_before_any_request(
        self, make_client: MakeClient
    ) -> None:
        server = FakeRosterServer()
        client, _ = make_client(server)
        with pytest.raises(ValueError, match="unknown OneRoster collection 'pupils'"):
            client.iter_collection("pupils")
        assert server.requests == []


class TestEnvelopes:
    """The envelope is chosen by resource type, tolerating the alternative keys servers send."""

    @pytest.mark.parametrize(
        ("collection", "envelope"),
        [
            ("users", "users"),
            ("users", "students"),
            ("teachers", "users"),
            ("schools", "orgs"),
            ("orgs", "orgs"),
            ("terms", "academicSessions"),
            ("academicSessions", "terms"),
            ("classes", "classes"),
            ("enrollments", "enrollments"),
        ],
    )
    def test_envelope_key(self, make_client: MakeClient, collection: str, envelope: str) -> None:
        client, _ = make_client(FakeRosterServer(users(3), envelope=envelope))
        assert len(list(client.iter_collection(collection))) == 3

    def test_missing_envelope_is_fatal_and_names_the_keys_found(
        self, make_client: MakeClient
    ) -> None:
        client, _ = make_client(FakeRosterServer(users(3), envelope="data"))
        with pytest.raises(FatalSourceError, match=r"without the 'users' list \(keys found: data"):
            list(client.iter_collection("users"))

    def test_an_item_that_is_not_an_object_is_fatal(self, make_client: MakeClient) -> None:
        client, _ = make_client(FakeRosterServer(["u1"]))  # type: ignore[list-item]
        with pytest.raises(FatalSourceError, match="record 0 of users that is not a JSON object"):
            list(client.iter_collection("users"))

    def test_a_body_that_is_not_json_is_fatal_and_names_the_path_not_the_query(
        self, make_client: MakeClient
    ) -> None:
        bad = httpx.Response(200, content=b"<html>Jo", headers={"X-Total-Count": "1"})
        client, _ = make_client(FakeRosterServer(faults=[bad]))
        with pytest.raises(FatalSourceError) as caught:
            list(client.iter_collection("users", filter=FILTER))
        message = str(caught.value)
        assert "/ims/oneroster/v1p1/users" in message and "not JSON" in message
        assert "Jo" not in message and "filter" not in message
        assert caught.value.url == "/ims/oneroster/v1p1/users"


class TestRetries:
    """429, 5xx and transport failures are retried with backoff; the rest are not."""

    def test_json_cut_short_is_retried_and_then_arrives_whole(
        self, make_client: MakeClient
    ) -> None:
        cut = httpx.Response(200, content=b'{"users": [{"sourcedId": "u1", "giv')
        client, sleeps = make_client(FakeRosterServer(users(2), faults=[cut]))
        assert len(list(client.iter_collection("users"))) == 2
        assert len(sleeps) == 1 and client.stats["users"].retries == 1

    def test_429_with_retry_after_waits_that_long(self, make_client: MakeClient) -> None:
        busy = httpx.Response(429, headers={"Retry-After": "7"})
        client, sleeps = make_client(FakeRosterServer(users(1), faults=[busy]))
        assert len(list(client.iter_collection("users"))) == 1
        assert sleeps == [7.0]
        assert client.stats["users"].retries == 1

    def test_retry_after_as_an_http_date(self, make_client: MakeClient) -> None:
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
        busy = httpx.Response(429, headers={"Retry-After": when})
        client, sleeps = make_client(FakeRosterServer(users(1), faults=[busy]))
        list(client.iter_collection("users"))
        (slept,) = sleeps
        assert 18.0 < slept <= 20.0

    def test_429_without_retry_after_backs_off_with_capped_full_jitter(
        self, make_client: MakeClient
    ) -> None:
        faults: list[Fault] = [httpx.Response(429) for _ in range(5)]
        client, sleeps = make_client(
            FakeRosterServer(users(1), faults=faults), backoff_base=0.5, backoff_cap=4.0
        )
        list(client.iter_collection("users"))
        ceilings = [0.5, 1.0, 2.0, 4.0, 4.0]
        assert len(sleeps) == 5
        assert all(0.0 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))
        assert len(set(sleeps)) == 5  # jittered, not a fixed schedule

    def test_503_then_success_is_retried(self, make_client: MakeClient) -> None:
        server = FakeRosterServer(users(1), faults=[httpx.Response(503)])
        client, sleeps = make_client(server)
        assert len(list(client.iter_collection("users"))) == 1
        assert len(sleeps) == 1 and client.stats["users"].requests == 2

    def test_every_attempt_is_signed_afresh(self, make_client: MakeClient) -> None:
        server = FakeRosterServer(users(1), faults=[httpx.Response(503)])
        client, _ = make_client(server)
        list(client.iter_collection("users"))
        nonces = {
            oauth1.parse_authorization_header(r.headers["Authorization"])["oauth_nonce"]
            for r in server.requests
        }
        assert len(nonces) == 2

    def test_a_timeout_is_retried(self, make_client: MakeClient) -> None:
        timeout = httpx.ReadTimeout("timed out")
        client, sleeps = make_client(FakeRosterServer(users(1), faults=[timeout]))
        assert len(list(client.iter_collection("users"))) == 1
        assert len(sleeps) == 1

    def test_exhausted_retries_raise_retriable_saying_what_happened(
        self, make_client: MakeClient
    ) -> None:
        faults: list[Fault] = [httpx.Response(503) for _ in range(6)]
        server = FakeRosterServer(users(1), faults=faults)
        client, sleeps = make_client(server, max_retries=5)
        with pytest.raises(RetriableSourceError) as caught:
            list(client.iter_collection("users"))
        message = str(caught.value)
        assert "HTTP 503" in message and "after 5 retries" in message
        assert "the sync can be retried" in message
        assert caught.value.status == 503
        assert len(sleeps) == 5 and len(server.requests) == 6

    def test_exhausted_retries_after_timeouts_keep_the_cause(self, make_client: MakeClient) -> None:
        faults: list[Fault] = [httpx.ConnectError("refused") for _ in range(3)]
        client, _ = make_client(FakeRosterServer(faults=faults), max_retries=2)
        with pytest.raises(RetriableSourceError, match="ConnectError") as caught:
            list(client.iter_collection("users"))
        assert isinstance(caught.value.__cause__, httpx.ConnectError)

    def test_a_retry_after_longer_than_a_sync_waits_fails_at_once(
        self, make_client: MakeClient
    ) -> None:
        busy = httpx.Response(429, headers={"Retry-After": "3600"})
        client, sleeps = make_client(FakeRosterServer(faults=[busy]), max_retry_after=300)
        with pytest.raises(RetriableSourceError, match="asked us to wait 3600 s"):
            list(client.iter_collection("users"))
        assert sleeps == []

    def test_400_is_fatal_with_the_servers_description_and_not_retried(
        self, make_client: MakeClient
    ) -> None:
        bad = httpx.Response(
            400, json=status_body("Invalid filter field: nickname", "invalid_filter_field")
        )
        server = FakeRosterServer(faults=[bad])
        client, sleeps = make_client(server)
        with pytest.raises(FatalSourceError) as caught:
            list(client.iter_collection("users"))
        assert "Invalid filter field: nickname [invalid_filter_field]" in str(caught.value)
        assert caught.value.status == 400
        assert sleeps == [] and len(server.requests) == 1


class TestAuthFailures:
    """401/403 name the credential to check, read from the server's status body."""

    @pytest.mark.parametrize(
        ("description", "credential"),
        [
            ("Unknown oauth_consumer_key", "key"),
            ("Invalid signature", "secret"),
            ("Invalid signature for oauth_consumer_key client-id", "secret"),
            ("oauth_timestamp is too old", "clock"),
            ("Nonce has already been used", "clock/nonce"),
            ("Unauthorized", "key and secret"),
        ],
    )
    def test_401_description_names_the_credential(
        self, make_client: MakeClient, description: str, credential: str
    ) -> None:
        refused = httpx.Response(401, json=status_body(description))
        server = FakeRosterServer(faults=[refused])
        client, sleeps = make_client(server)
        with pytest.raises(SourceAuthError) as caught:
            list(client.iter_collection("users"))
        assert caught.value.credential == credential
        assert description in str(caught.value) and "district.example" in str(caught.value)
        assert sleeps == [] and len(server.requests) == 1

    def test_unknown_key_message_says_where_to_look(self, make_client: MakeClient) -> None:
        refused = httpx.Response(401, json=status_body("unknown oauth_consumer_key"))
        client, _ = make_client(FakeRosterServer(faults=[refused]))
        with pytest.raises(SourceAuthError) as caught:
            list(client.iter_collection("users"))
        assert str(caught.value).startswith(
            "the ClassLink key (client id) is not recognised by district.example; check the key "
            "in the district's integration settings"
        )

    @pytest.mark.parametrize(
        "body",
        [
            {"imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_description": "bad ts"},
            {"imsx_StatusInfo": {"imsx_codeMajor": "failure", "imsx_description": "timestamp"}},
            {"imsx_statusInfo": {"imsx_codeMajor": "failure", "imsx_description": "timestamp"}},
        ],
    )
    def test_1_2_status_bodies_are_read_too(
        self, make_client: MakeClient, body: dict[str, Any]
    ) -> None:
        client, _ = make_client(FakeRosterServer(faults=[httpx.Response(401, json=body)]))
        with pytest.raises(SourceAuthError) as caught:
            list(client.iter_collection("users"))
        expected = "key and secret" if body.get("imsx_description") == "bad ts" else "clock"
        assert caught.value.credential == expected

    def test_403_without_a_body_asks_to_check_key_and_secret(self, make_client: MakeClient) -> None:
        client, _ = make_client(FakeRosterServer(faults=[httpx.Response(403)]))
        with pytest.raises(SourceAuthError, match="HTTP 403: Forbidden") as caught:
            list(client.iter_collection("users"))
        assert caught.value.credential == "key and secret"


class TestHelpers:
    """Status bodies and Retry-After values are parsed in every documented shape."""

    def test_status_info_joins_description_and_code_minor(self) -> None:
        info = status_info(status_body("Unknown object", "unknownobject"))
        assert info.summary() == "Unknown object [unknownobject]"
        assert info.code_major == "failure"

    def test_status_info_of_something_else_is_empty(self) -> None:
        assert status_info(["nope"]).summary() == ""

    @pytest.mark.parametrize(
        ("value", "seconds"),
        [("120", 120.0), (" 0 ", 0.0), ("-5", None), ("soon", None), (None, None)],
    )
    def test_retry_after_seconds(self, value: str | None, seconds: float | None) -> None:
        assert parse_retry_after(value) == seconds

    def test_retry_after_date_in_the_past_is_zero(self) -> None:
        now = datetime(2025, 1, 1, tzinfo=UTC)
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0


class TestConfiguration:
    """Unusable settings fail at construction with a message that says what to give."""

    @pytest.mark.parametrize(
        "url", ["district.example/ims", "ftp://district.example/x", f"{BASE}?x=1"]
    )
    def test_bad_base_url(self, url: str) -> None:
        with pytest.raises(ConfigError):
            OneRosterClient(url, OAuth1Auth(KEY, SECRET))

    def test_page_size_above_the_ceiling(self) -> None:
        with pytest.raises(ConfigError, match="page size"):
            OneRosterClient(BASE, OAuth1Auth(KEY, SECRET), page_size=10_001)

    def test_repr_shows_no_secret(self, make_client: MakeClient) -> None:
        client, _ = make_client(FakeRosterServer())
        assert SECRET not in repr(client)


class TestNoPersonalDataInLogs:
    """Log lines carry collection, page and count; filters and httpx's URL lines stay out."""

    def test_structlog_lines_and_stdlib_logs_hold_no_filter_values(
        self, make_client: MakeClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        server = FakeRosterServer(users(3), faults=[httpx.Response(503)])
        client, _ = make_client(server)
        with structlog.testing.capture_logs() as events:
            list(client.iter_collection("users", filter=FILTER))
        pages = [e for e in events if e["event"] == "oneroster.page"]
        assert [(e["page"], e["count"]) for e in pages] == [(1, 2), (2, 1)]
        assert all(set(e) == {"event", "log_level", "collection", "page", "count"} for e in pages)
        everything = repr(events) + caplog.text
        for secret_bit in ("Jo", "2024-01-01", "givenName", SECRET, "oauth_signature"):
            assert secret_bit not in everything


class RecordingServer(ThreadingHTTPServer):
    """A loopback HTTP server that remembers the raw request targets it received."""

    daemon_threads = True
    secret = SECRET

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RosterHandler)
        self.targets: list[str] = []


class _RosterHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_GET(self) -> None:
        self.server.targets.append(self.path)
        # Recompute from the raw request line, as a Roster Server does: no client library between.
        url = f"http://{self.headers['Host']}{self.path}"
        if verify_signature("GET", url, self.headers.get("Authorization", ""), self.server.secret):
            status, body = 200, {"users": users(1)}
        else:
            status, body = 401, status_body("Invalid signature")
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Total-Count", "1")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep request lines (and their filters) out of the test output


@pytest.fixture
def loopback() -> Iterator[RecordingServer]:
    """A real HTTP server on 127.0.0.1, on a free port, serving from a thread."""
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


class TestOverRealHttp:
    """Over a real socket, a filter with quotes, `>` and spaces is signed exactly as sent."""

    def test_the_server_recomputes_the_signature_from_the_raw_request_line(
        self, loopback: RecordingServer
    ) -> None:
        base = f"http://127.0.0.1:{loopback.server_address[1]}/ims/oneroster/v1p1"
        with OneRosterClient(base, OAuth1Auth(KEY, SECRET)) as client:
            got = list(client.iter_collection("users", filter=FILTER))
        assert [r["sourcedId"] for r in got] == ["u0000"]
        (target,) = loopback.targets
        assert target.endswith(
            "&filter=dateLastModified%3E%272024-01-01T00%3A00%3A00Z%27%20AND%20givenName%3D%27Jo%20Ann%27"
        )

    def test_a_wrong_secret_is_refused_and_blamed_on_the_secret(
        self, loopback: RecordingServer
    ) -> None:
        base = f"http://127.0.0.1:{loopback.server_address[1]}/ims/oneroster/v1p1"
        with (
            OneRosterClient(base, OAuth1Auth(KEY, "not-the-secret")) as client,
            pytest.raises(SourceAuthError) as caught,
        ):
            list(client.iter_collection("users", filter=FILTER))
        assert caught.value.credential == "secret"
