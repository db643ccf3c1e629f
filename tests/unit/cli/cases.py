"""Roster values that must print literally, and how to read what the CLI printed.

Shared by the CLI's unit and integration tests.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import strategies as st

from rostersync.cli import render

# Values that have broken, or could break, a renderer that reads data as markup or passes it raw.
TRICKY = [
    "[/b]",
    "[bold]x[/]",
    "[/]",
    "[red]Ann",
    "[link=https://attacker.example/]click[/link]",
    "[bold red]Error:[/] forged",
    "\\",
    "\\[b]",
    "[",
    "]",
    ":smile:",
    "[@click=app.quit]",
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://attacker.example\x1b\\link",
    "line\nbreak",
    "carriage\rreturn",
    "tab\there",
    "\x00\x07\x08\x7f\x9b",
    "\u202eevil\u202c",
    "\u2028\u2029",
    "100%",
    "{task.description}",
    "  spaced  ",
]

values = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=8)), max_size=4).map("".join),
)

WIDE = 10_000
_SGR = re.compile(r"\x1b\[[0-9;]*m")  # the styles Rich itself writes when colour is on
_REORDERING = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@contextmanager
def wide_console() -> Iterator[None]:
    """The CLI's console made wide enough that no table cell is folded, then put back."""
    before = render.console._width
    render.console.width = WIDE
    try:
        yield
    finally:
        render.console._width = before


def shown(output: str) -> str:
    """What a person sees, after checking that no raw control character reached the terminal."""
    output = _SGR.sub("", output)
    leaked = {
        c
        for c in output
        if (unicodedata.category(c) in ("Cc", "Zl", "Zp") and c != "\n") or c in _REORDERING
    }
    assert not leaked, f"raw control characters reached the terminal: {leaked!r}"
    return output
