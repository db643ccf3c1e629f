"""The push endpoint's HTTP Basic parsing and the shape of issued push keys (no I/O)."""

from __future__ import annotations

import base64

import pytest
from starlette.requests import Request

from rostersync.store.push import KEY_PREFIX, SECRET_PREFIX, new_pair
from rostersync.web.push import _basic


def request_with(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


class TestBasic:
    """Only a well-formed `Basic key:secret` header yields credentials; anything else is None."""

    def test_a_key_and_secret(self) -> None:
        assert _basic(request_with(basic("rsk_1:rss_a:b"))) == ("rsk_1", "rss_a:b")

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "Bearer abc",
            "Basic",
            "Basic !!!not-base64!!!",
            basic("no-colon"),
            basic(":secret-only"),
            basic("key-only:"),
            "Basic " + base64.b64encode(b"\xff\xfe:\x80").decode(),
            "Basic " + "A" * 2000,
        ],
    )
    def test_malformed_headers_give_nothing(self, header: str | None) -> None:
        assert _basic(request_with(header)) is None


class TestNewPair:
    """Key ids and secrets are prefixed, distinct, and the secret carries 256 random bits."""

    def test_shape_and_uniqueness(self) -> None:
        pairs = {new_pair() for _ in range(100)}
        assert len({k for k, _ in pairs}) == len({s for _, s in pairs}) == 100
        for key, secret in pairs:
            assert key.startswith(KEY_PREFIX) and secret.startswith(SECRET_PREFIX)
            assert len(base64.urlsafe_b64decode(secret[len(SECRET_PREFIX) :] + "=")) == 32
            assert ":" not in key  # HTTP Basic splits on the first colon
