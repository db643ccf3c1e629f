"""`rostersync serve` runs uvicorn on uvloop's event loop with httptools' HTTP parser."""

from __future__ import annotations

import uvicorn

from rostersync.web.server import UVICORN_OPTIONS


async def _app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
    raise AssertionError("not called")


def test_the_server_takes_uvloop_and_httptools() -> None:
    config = uvicorn.Config(_app, **UVICORN_OPTIONS)
    config.load()
    assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    assert UVICORN_OPTIONS["access_log"] is False  # query strings carry codes: never logged
