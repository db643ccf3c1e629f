"""The security headers every answer of the portal carries, pages, redirects and errors alike.

A plain ASGI middleware: it edits the headers of the response's start message as it passes, with
no task or stream per request (Starlette's `@app.middleware("http")` costs both).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """ASGI middleware: CSP, framing, sniffing, referrer and caching headers on every answer.

    A route's own `Content-Security-Policy`, `Cache-Control` or `Strict-Transport-Security` is
    kept; the others are always ours.

    Args:
        app: The app to wrap.
        form_action: The other origin forms may post to (the ClassLink issuer).
        https: Whether the portal is served over https (secure cookies): then HSTS too.
    """

    def __init__(self, app: ASGIApp, *, form_action: str, https: bool) -> None:
        self.app = app
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"form-action 'self' {form_action}; frame-ancestors 'none'"
        )
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                # Old browsers' twin of `frame-ancestors 'none'`: no page of ours is framed.
                headers["X-Frame-Options"] = "DENY"
                if self.https:
                    # Secure cookies mean the portal is served over https: browsers keep to it.
                    headers.setdefault("Strict-Transport-Security", HSTS)
                headers["X-Content-Type-Options"] = "nosniff"
                # The callback URL carries the code: never leak it (or any page) in a Referer.
                headers["Referrer-Policy"] = "no-referrer"
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadedApp(FastAPI):
    """A FastAPI app whose every answer carries the security headers, its 500 page included.

    The headers are put on outside Starlette's error middleware (a middleware added with
    `add_middleware` runs inside it, so an unhandled error's 500 would go out bare).

    Args:
        form_action: See `SecurityHeaders`.
        https: See `SecurityHeaders`.
        **kwargs: Passed on to `FastAPI`.
    """

    def __init__(self, *, form_action: str, https: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._form_action = form_action
        self._https = https

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(
            super().build_middleware_stack(), form_action=self._form_action, https=self._https
        )
