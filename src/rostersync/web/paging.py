"""The page links of every keyset-paged list (districts, runs, audit, the API's lists): opaque
cursors, the words that state what a page shows, and Next/Previous links that keep the filters.

A cursor is the base64url of a small JSON document: which list it belongs to, the sort key of the
row the page starts after (or, for Previous, ends before), and which of the two. It names a
position, never a right: every list reads its rows under the caller's scope, so a cursor copied
from another district's list (or made up) reaches nothing the caller could not see anyway. A
cursor that does not decode, belongs to another list, or whose key has the wrong shape is a
`BadCursor`, which pages answer with a 400 page and the API with a 400 JSON body.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import HTTPException, Query

from rostersync.store.keyset import KeyValue, Seek, SeekPage
from rostersync.web.gates import PageError

__all__ = [
    "MAX_CURSOR",
    "BadCursor",
    "CursorParam",
    "PageLinks",
    "api_seek",
    "decode_cursor",
    "encode_cursor",
    "links_of",
    "page_seek",
    "shown_words",
]

# The longest cursor a route accepts (a sort key of a few short values fits well within it).
MAX_CURSOR = 1000
BAD_CURSOR = (
    "This page link is broken or out of date (its cursor is not one this list made): "
    "start again from the list's first page."
)
# A list's `cursor` query parameter, as pages and the API take it.
CursorParam = Annotated[
    str,
    Query(
        max_length=MAX_CURSOR,
        description="Where the page starts: the `next` (or `previous`) cursor of the page "
        "before; leave it out for the first page. Opaque: use it as given.",
    ),
]
_KINDS: dict[str, type] = {"str": str, "int": int, "datetime": datetime}


class BadCursor(ValueError):
    """A cursor that is not one the list made: say so, and offer the first page."""

    def __init__(self) -> None:
        super().__init__(BAD_CURSOR)


def _value(value: KeyValue) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def encode_cursor(list_name: str, key: Sequence[KeyValue], *, before: bool = False) -> str:
    """The opaque cursor of a position in the list `list_name`."""
    document = {"l": list_name, "k": [_value(v) for v in key], "b": int(before)}
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decoded(value: object, kind: str) -> KeyValue:
    if kind == "datetime":
        if not (isinstance(value, dict) and isinstance(value.get("t"), str)):
            raise BadCursor()
        try:
            moment = datetime.fromisoformat(value["t"])
        except ValueError:
            raise BadCursor() from None
        if moment.tzinfo is None:
            raise BadCursor()
        return moment
    wanted = _KINDS[kind]
    if type(value) is not wanted:  # exactly: a bool is no int here
        raise BadCursor()
    return value


def decode_cursor(token: str, list_name: str, shape: Sequence[str]) -> Seek | None:
    """The position a cursor names, or None for no cursor (the first page).

    Args:
        token: The cursor as the link carried it ("" for none).
        list_name: The list reading it; a cursor of another list is refused.
        shape: The kinds of the sort key's values, each "str", "int" or "datetime".

    Raises:
        BadCursor: The cursor does not decode, or is not one of this list's.
    """
    if not token:
        return None
    if len(token) > MAX_CURSOR:
        raise BadCursor()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor() from None
    if not isinstance(document, dict) or document.get("l") != list_name:
        raise BadCursor()
    key, before = document.get("k"), document.get("b")
    if not isinstance(key, list) or len(key) != len(shape) or before not in (0, 1):
        raise BadCursor()
    if type(before) is not int:  # exactly: `true` is no 0 or 1 here
        raise BadCursor()
    return Seek(tuple(_decoded(v, kind) for v, kind in zip(key, shape, strict=True)), bool(before))


def shown_words(page: SeekPage, noun: str, nouns: str) -> str:
    """What a page shows, in words: "Showing 51–100 of 1,240 runs"."""
    if not page.total:
        return f"No {nouns}."
    if not page.rows:
        return f"Nothing here: the list has {page.total:,} {noun if page.total == 1 else nouns}."
    if page.first == 1 and page.last == page.total:
        return f"Showing all {page.total:,} {noun if page.total == 1 else nouns}."
    return f"Showing {page.first:,}–{page.last:,} of {page.total:,} {nouns}."


@dataclass(frozen=True, slots=True, kw_only=True)
class PageLinks:
    """A page's links: Next and Previous (each "" when there is none), and the first page."""

    next_url: str
    previous_url: str
    first_url: str
    next_cursor: str
    previous_cursor: str


def links_of(
    page: SeekPage, list_name: str, path: str, params: Mapping[str, str | int] | None = None
) -> PageLinks:
    """The links of `page` of the list at `path`, each keeping `params` (the list's filters and
    its page size; empty values are left out)."""
    kept = {k: v for k, v in (params or {}).items() if v not in ("", None)}

    def url(cursor: str) -> str:
        query = urlencode({**kept, "cursor": cursor} if cursor else kept)
        return path + (f"?{query}" if query else "")

    after = encode_cursor(list_name, page.keys[-1]) if page.has_next else ""
    before = encode_cursor(list_name, page.keys[0], before=True) if page.has_previous else ""
    return PageLinks(
        next_url=url(after) if after else "",
        previous_url=url(before) if before else "",
        first_url=url(""),
        next_cursor=after,
        previous_cursor=before,
    )


def page_seek(token: str, list_name: str, shape: Sequence[str], first_url: str) -> Seek | None:
    """`decode_cursor` for a page: a bad cursor is a 400 page that links the first page."""
    try:
        return decode_cursor(token, list_name, shape)
    except BadCursor as exc:
        raise PageError(
            status=400,
            title="This page link does not work",
            message=f"{exc} The first page is {first_url}.",
        ) from None


def api_seek(token: str, list_name: str, shape: Sequence[str]) -> Seek | None:
    """`decode_cursor` for the API: a bad cursor is a 400 with `detail` saying why."""
    try:
        return decode_cursor(token, list_name, shape)
    except BadCursor:
        raise HTTPException(
            400,
            "The cursor is not one this list made (it may have been changed or cut short): "
            "leave it out to start from the first page.",
        ) from None
