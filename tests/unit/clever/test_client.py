"""The Clever readers on the wire: what is sent where, how pages are followed, what fails how."""

from __future__ import annotations

import base64
import gc
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rostersync.clever.client import CleverApp, CleverClient
from rostersync.errors import (
    ConfigError,
    FatalSourceError,
    IncompleteSourceError,
    SourceAuthError,
)

API, OAUTH = "https://api.clever.test", "https://oauth.clever.test"
TOKEN = "district-token-1"

Handler = Callable[[httpx.Request], httpx.Response]


class Wire:
    """A transport answering with `handler`, keeping every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.seen.append(request)
            return handler(request)

        self.transport = httpx.MockTransport(record)


def page(records: list[dict[str, Any]], next_uri: str | None = None) -> httpx.Response:
    links = [{"rel": "self", "uri": "/v3.1/users"}]
    if next_uri:
        links.append({"rel": "next", "uri": next_uri})
    items = [{"data": r, "uri": f"/v3.1/users/{r['id']}"} for r in records]
    return httpx.Response(200, json={"data": items, "links": links})


def client(wire: Wire, **options: Any) -> CleverClient:
    return CleverClient(
        API, TOKEN, page_size=2, transport=wire.transport, sleep=lambda _s: None, **options
    )


def test_pages_follow_the_next_links_with_the_bearer_and_keep_the_page_size() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("starting_after")
        if after is None:
            return page([{"id": "a"}, {"id": "b"}], "/v3.1/users?starting_after=b")
        return page([{"id": "c"}])

    wire = Wire(answer)
    with client(wire) as reader:
        pages = list(reader.pages("users"))

    assert [[r["id"] for r in p] for p in pages] == [["a", "b"], ["c"]]
    assert [str(r.url) for r in wire.seen] == [
        f"{API}/v3.1/users?limit=2",
        f"{API}/v3.1/users?starting_after=b&limit=2",
    ]
    assert {r.headers["Authorization"] for r in wire.seen} == {f"Bearer {TOKEN}"}
    assert reader.requests == 2 and reader.retries == 0


def test_a_next_link_to_another_host_is_refused_before_the_token_goes_there() -> None:
    wire = Wire(lambda _r: page([{"id": "a"}], "https://elsewhere.test/v3.1/users?x=1"))
    with client(wire) as reader, pytest.raises(FatalSourceError, match=r"elsewhere\.test"):
        list(reader.pages("users"))
    assert {r.url.host for r in wire.seen} == {"api.clever.test"}


def test_a_next_link_that_does_not_advance_fails_the_collection_as_incomplete() -> None:
    wire = Wire(lambda _r: page([{"id": "a"}], "/v3.1/users?starting_after=a"))
    with client(wire) as reader, pytest.raises(IncompleteSourceError, match="same next page"):
        list(reader.pages("users"))


def test_json_that_keeps_breaking_off_fails_the_collection_as_incomplete() -> None:
    wire = Wire(lambda _r: httpx.Response(200, content=b'{"data": [{"data": {"id": "a"'))
    reader = client(wire, max_retries=2)
    with reader, pytest.raises(IncompleteSourceError, match="did not arrive whole"):
        list(reader.pages("users"))
    assert len(wire.seen) == 3  # asked again twice first


def test_a_refused_token_is_renewed_once_then_the_failure_says_the_district_disconnected() -> None:
    tokens = iter(["district-token-2", "district-token-3"])
    renewed: list[str] = []

    def renew() -> str:
        renewed.append(next(tokens))
        return renewed[-1]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer district-token-2":
            return page([{"id": "a"}])
        return httpx.Response(401, json={"message": "invalid token"})

    with client(Wire(answer), renew=renew) as reader:
        assert [r["id"] for p in reader.pages("users") for r in p] == ["a"]
        assert reader.retries == 1
    reader = client(Wire(lambda _r: httpx.Response(401)), renew=lambda: TOKEN)
    with reader, pytest.raises(SourceAuthError, match="refused the district's token") as refused:
        list(reader.pages("users"))
    assert refused.value.credential == "district token"
    assert TOKEN not in str(refused.value)


def tokens_answer(request: httpx.Request) -> httpx.Response:
    expected = "Basic " + base64.b64encode(b"app-id:app-secret").decode()
    if request.headers.get("Authorization") != expected:
        return httpx.Response(401, json={"error": "invalid_client"})
    rows = [
        {"id": "t1", "owner": {"type": "district", "id": "d1"}, "access_token": "tok-1"},
        {"id": "t2", "owner": {"type": "district", "id": "d2"}, "access_token": "tok-2"},
    ]
    return httpx.Response(200, json={"data": rows, "links": []})


def app(wire: Wire, secret: str = "app-secret") -> CleverApp:  # noqa: S107 - a test's
    return CleverApp(OAUTH, "app-id", secret, transport=wire.transport, sleep=lambda _s: None)


def test_the_app_lists_its_district_tokens_with_basic_auth_at_the_oauth_url_only() -> None:
    wire = Wire(tokens_answer)
    with app(wire) as tokens:
        assert tokens.token_for("d2").token == "tok-2"
        assert tokens.token_for("d1").token == "tok-1"  # read once, then cached
        with pytest.raises(SourceAuthError, match="has not shared with the app") as missing:
            tokens.token_for("d3")
    assert missing.value.credential == "district sharing"
    assert [str(r.url) for r in wire.seen] == [f"{OAUTH}/oauth/tokens?owner_type=district"]
    assert "app-secret" not in repr(tokens) and "tok-" not in repr(tokens.token_for("d1"))


def test_a_refused_app_secret_names_the_vendor_settings_not_the_secret() -> None:
    tokens = app(Wire(tokens_answer), secret="wrong-secret")
    with tokens, pytest.raises(SourceAuthError, match="ROSTERSYNC_CLEVER_CLIENT_SECRET") as refused:
        tokens.tokens()
    assert refused.value.credential == "Clever app secret"
    assert "wrong-secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CleverApp(OAUTH, "", ""), "ROSTERSYNC_CLEVER_CLIENT_ID"),
        (lambda: CleverApp("clever.com", "id", "s"), "ROSTERSYNC_CLEVER_OAUTH_URL"),
        (lambda: CleverClient("ftp://x", TOKEN), "ROSTERSYNC_CLEVER_API_URL"),
        (lambda: CleverClient(API, TOKEN, page_size=10_001), "page size"),
    ],
)
def test_unusable_settings_are_refused_before_anything_is_sent(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_the_tokens_of_a_big_app_are_read_page_by_page() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("starting_after") == "t1":
            rows = [{"id": "t2", "owner": {"type": "district", "id": "d2"}, "access_token": "b"}]
            return httpx.Response(200, json={"data": rows, "links": []})
        rows = [{"id": "t1", "owner": {"type": "district", "id": "d1"}, "access_token": "a"}]
        links = [{"rel": "next", "uri": "/oauth/tokens?owner_type=district&starting_after=t1"}]
        return httpx.Response(200, content=json.dumps({"data": rows, "links": links}).encode())

    with app(Wire(answer)) as tokens:
        assert [t.district_id for t in tokens.tokens()] == ["d1", "d2"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(302, headers={"Location": "https://x.test/"}), "redirected"),
        (httpx.Response(200, content=b"<html>maintenance</html>"), "not JSON"),
        (httpx.Response(200, json={"users": []}), "without a 'data' list"),
    ],
)
def test_an_answer_that_is_not_a_clever_list_fails_in_clevers_words(
    answer: httpx.Response, message: str
) -> None:
    reader = client(Wire(lambda _r: answer))
    with reader, pytest.raises(FatalSourceError, match=message) as failed:
        list(reader.pages("users"))
    assert "OneRoster" not in str(failed.value)


def test_a_district_id_is_found_in_any_case_and_without_stray_spaces() -> None:
    with app(Wire(tokens_answer)) as tokens:
        assert tokens.token_for(" D2 ").token == "tok-2"


def test_no_answer_outlives_its_page_while_the_cyclic_collector_is_paused() -> None:
    # A run pauses the cyclic collector; httpx binds an answer and its stream to each other, so
    # an answer left so would keep its page in memory to the end of the run.
    def answer(request: httpx.Request) -> httpx.Response:
        at = int(request.url.params.get("starting_after", "0"))
        more = f"/v3.1/users?starting_after={at + 2}" if at < 10 else None
        return page([{"id": str(at + 1)}, {"id": str(at + 2)}], more)

    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, httpx.Response)}
    gc.disable()
    try:
        reader = client(Wire(answer))
        pages = list(reader.pages("users"))
        reader.close()
        alive = [
            o for o in gc.get_objects() if isinstance(o, httpx.Response) and id(o) not in before
        ]
    finally:
        gc.enable()
    assert len(pages) == 6
    assert alive == []
