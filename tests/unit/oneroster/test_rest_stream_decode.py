"""Pages are decoded by msgspec; what it refuses is decoded, or refused, as the standard decoder
always did, with the same messages (decision 0032)."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from rostersync.errors import FatalSourceError, RetriableSourceError
from rostersync.oneroster.page_json import decode_page

HOST = "district.example"
URL = f"https://{HOST}/ims/oneroster/v1p1/users?limit=2&offset=0"


def answer(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, request=httpx.Request("GET", URL))


PAGE = {
    "users": [
        {"sourcedId": "u1", "givenName": "Zoë", "enabledUser": True, "grades": ["09"]},
        {"sourcedId": "u2", "metadata": {"eligibility": "free"}, "big": 2**70, "none": None},
    ]
}


def test_a_page_decodes_to_the_dicts_the_standard_decoder_gives() -> None:
    body = json.dumps(PAGE, ensure_ascii=False).encode()
    assert decode_page(answer(body), HOST) == (PAGE, None)


@pytest.mark.parametrize(
    "body",
    [b'\xef\xbb\xbf{"users": []}', b'{"users": [{"sourcedId": "u1", "score": NaN}]}'],
    ids=["byte-order-mark", "nan"],
)
def test_what_msgspec_refuses_but_json_accepts_still_decodes(body: bytes) -> None:
    decoded, failure = decode_page(answer(body), HOST)
    assert failure is None and isinstance(decoded, dict) and "users" in decoded
    if b"NaN" in body:
        assert math.isnan(decoded["users"][0]["score"])


def test_json_that_breaks_off_is_retriable_with_its_message() -> None:
    body = json.dumps(PAGE).encode()[:40]
    decoded, failure = decode_page(answer(body), HOST)
    assert decoded is None and isinstance(failure, RetriableSourceError)
    assert str(failure) == (
        f"{HOST} answered GET /ims/oneroster/v1p1/users with JSON that breaks off after 40 bytes"
    )


def test_a_body_that_is_not_json_is_fatal_with_its_message() -> None:
    with pytest.raises(FatalSourceError, match="with a body that is not JSON; check that the base"):
        decode_page(answer(b"<html>Service moved</html>"), HOST)
