"""The line under a list that left rows out."""

from __future__ import annotations

from rostersync.cli.listing import showing


def test_nothing_is_said_when_every_row_is_shown() -> None:
    assert showing(3, 3) is None
    assert showing(0, 0) is None


def test_a_cut_list_says_how_many_of_how_many_and_how_to_see_more() -> None:
    assert showing(50, 148) == "showing 50 of 148 (--limit, --all)"
    assert showing(50, 12_400) == "showing 50 of 12,400 (--limit, --all)"


def test_a_later_page_says_which_rows_it_shows() -> None:
    assert showing(48, 148, offset=100) == "showing 101–148 of 148 (--limit, --offset, --all)"
    assert showing(0, 148, offset=200) == "showing none of 148 (--limit, --offset, --all)"
