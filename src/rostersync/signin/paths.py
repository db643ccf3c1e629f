"""The post-login target: only ever a path on this site (security.md §1.4)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

DEFAULT_PATH = "/"


def safe_next_path(value: str | None) -> str:
    """`value` when it is a same-site path, otherwise "/".

    Accepted: a single leading `/`, no `//` or `/\\`, no scheme or host, no backslash, no control
    characters or whitespace, and all of that still true after percent-decoding (so
    `/%2F%2Fevil.test` is refused).

    Args:
        value: The requested target, e.g. from a `next` query parameter.

    Returns:
        The path to redirect to after sign-in.
    """
    if not value:
        return DEFAULT_PATH
    for candidate in (value, unquote(value)):
        if not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
            return DEFAULT_PATH
        if "\\" in candidate or any(
            ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate
        ):
            return DEFAULT_PATH
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return DEFAULT_PATH
    return value
