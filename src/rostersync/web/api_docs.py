"""Swagger UI for the admin API at `/api/docs`, with nothing loaded from anywhere else.

Swagger UI's script and styles come from the `fastapi-offline` package, served by the API app
under `DOCS_ASSETS`; the page that starts it is this module's, with no inline script: it loads
the bundle, then `/static/api_docs.js`, which points Swagger UI at the OpenAPI document. Its
policy allows scripts, styles, images and requests from this origin only (`data:` images too:
Swagger UI's icons are inline SVG in its stylesheet), so the docs work offline and a script
injected into the page has nowhere to load from or send to.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi.responses import HTMLResponse

# Where the API app serves the package's Swagger UI assets (under its `/api` mount).
DOCS_ASSETS = "/docs/assets"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# The district push key, as the OpenAPI document names it (web/push.py checks it).
PUSH_SECURITY_SCHEME: dict[str, Any] = {
    "pushKey": {
        "type": "http",
        "scheme": "basic",
        "description": "The district's push key id and secret (`rostersync push-key issue`).",
    }
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/api_docs.js"></script>
</body>
</html>
"""


def docs_page(root_path: str, title: str) -> HTMLResponse:
    """The Swagger UI page for the API mounted at `root_path` (`/api`), with its policy."""
    root = root_path.rstrip("/")
    html = _PAGE.format(
        title=escape(title),
        assets=escape(root + DOCS_ASSETS),
        openapi=escape(root + "/openapi.json"),
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})


__all__ = ["DOCS_ASSETS", "DOCS_CSP", "PUSH_SECURITY_SCHEME", "docs_page"]
