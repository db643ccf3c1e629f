"""Cursors of the keyset-paged lists: they carry a position of one list and nothing else, every
malformed one is refused the same way, and a page states what it shows."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rostersync.store.keyset import Seek, SeekPage
from rostersync.web.paging import (
    MAX_CURSOR,
    BadCursor,
    decode_cursor,
    encode_cursor,
    links_of,
    shown_words,
)

RUNS = ("datetime", "str")
AT = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


def made(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def page(total: int, skipped: int, rows: int, size: int = 50) -> SeekPage:
    keys = [(f"k{skipped + i:05d}",) for i in range(rows)]
    return SeekPage(rows=[None] * rows, keys=keys, total=total, skipped=skipped, size=size)  # type: ignore[list-item]


class TestCursors:
    def test_a_position_comes_back_as_it_went(self) -> None:
        token = encode_cursor("runs", (AT, "run-1"))
        assert decode_cursor(token, "runs", RUNS) == Seek((AT, "run-1"), before=False)
        back = encode_cursor("runs", (AT, "run-1"), before=True)
        assert decode_cursor(back, "runs", RUNS) == Seek((AT, "run-1"), before=True)

    def test_a_cursor_is_url_safe_and_names_its_offset_moment(self) -> None:
        other_zone = AT.astimezone(timezone(timedelta(hours=-7)))
        token = encode_cursor("runs", (other_zone, "é/+?&"))
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        seek = decode_cursor(token, "runs", RUNS)
        assert seek is not None and seek.key == (AT, "é/+?&")

    def test_no_cursor_is_the_first_page(self) -> None:
        assert decode_cursor("", "runs", RUNS) is None

    @pytest.mark.parametrize(
        "token",
        [
            "!!!",
            "e30",  # {}
            made({"l": "audit", "k": [{"t": AT.isoformat()}, "x"], "b": 0}),  # another list's
            made({"l": "runs", "k": [{"t": AT.isoformat()}], "b": 0}),  # too short
            made({"l": "runs", "k": [{"t": AT.isoformat()}, 5], "b": 0}),  # an int for a str
            made({"l": "runs", "k": ["2026-05-04", "x"], "b": 0}),  # a string for a moment
            made({"l": "runs", "k": [{"t": "2026-05-04T03:02:01"}, "x"], "b": 0}),  # no zone
            made({"l": "runs", "k": [{"t": "yesterday"}, "x"], "b": 0}),
            made({"l": "runs", "k": [{"t": AT.isoformat()}, "x"], "b": 2}),
            made({"l": "runs", "k": [{"t": AT.isoformat()}, "x"], "b": True}),
            made(["runs"]),
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
            "A" * (MAX_CURSOR + 1),
        ],
    )
    def test_anything_else_is_refused_with_the_same_words(self, token: str) -> None:
        with pytest.raises(BadCursor, match="start again from the list's first page"):
            decode_cursor(token, "runs", RUNS)

    def test_a_bool_is_not_an_int(self) -> None:
        with pytest.raises(BadCursor):
            decode_cursor(made({"l": "audit", "k": [True], "b": 0}), "audit", ("int",))
        assert decode_cursor(made({"l": "audit", "k": [7], "b": 0}), "audit", ("int",)) == Seek(
            (7,)
        )


class TestWordsAndLinks:
    def test_a_middle_page_says_where_it_is(self) -> None:
        assert shown_words(page(1240, 50, 50), "run", "runs") == "Showing 51–100 of 1,240 runs."

    def test_a_whole_list_and_an_empty_one(self) -> None:
        assert shown_words(page(1, 0, 1), "run", "runs") == "Showing all 1 run."
        assert shown_words(page(0, 0, 0), "run", "runs") == "No runs."

    def test_links_keep_the_filters_and_leave_out_empty_ones(self) -> None:
        links = links_of(
            page(120, 50, 50), "issues", "/x", {"code": "a b", "school": "", "limit": 5}
        )
        assert links.next_url.startswith("/x?code=a+b&limit=5&cursor=")
        assert links.previous_url.startswith("/x?code=a+b&limit=5&cursor=")
        assert links.first_url == "/x?code=a+b&limit=5"
        assert decode_cursor(links.next_cursor, "issues", ("str",)) == Seek(("k00099",))
        assert decode_cursor(links.previous_cursor, "issues", ("str",)) == Seek(
            ("k00050",), before=True
        )

    def test_the_first_and_last_pages_have_one_link(self) -> None:
        first, last = links_of(page(120, 0, 50), "l", "/x"), links_of(page(120, 100, 20), "l", "/x")
        assert first.previous_url == "" and first.next_url
        assert last.next_url == "" and last.previous_url
