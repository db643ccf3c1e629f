"""Held pages: a collection pass is kept back until it is whole, and a restart keeps nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.oneroster.held_pages import HeldPages, whole_pages
from rostersync.oneroster.paging import CountMismatch

Page = list[dict[str, Any]]


def page(start: int, count: int) -> Page:
    return [
        {"sourcedId": f"u{n:04d}", "n": n, "ok": n % 2 == 0, "x": None, "f": 1.5, "l": [n]}
        for n in range(start, start + count)
    ]


class TestHeldPages:
    def test_pages_past_the_memory_bound_go_to_disk_and_come_back_in_order(self) -> None:
        pages = [page(n * 10, 10) for n in range(7)]
        with HeldPages(memory_records=25) as held:
            for each in pages:
                held.add(each)
            assert held._file is not None  # the bound was passed: the rest is on disk
            assert list(held) == pages
            assert list(held) == pages  # and can be read again
            assert held.records == 70

    def test_a_small_collection_never_touches_the_disk(self) -> None:
        with HeldPages(memory_records=25) as held:
            held.add(page(0, 25))
            assert held._file is None
            assert list(held) == [page(0, 25)]

    def test_closing_lets_everything_go(self) -> None:
        held = HeldPages(memory_records=1)
        held.add(page(0, 5))
        held.add(page(5, 5))
        held.close()
        assert list(held) == []


class TestWholePages:
    def walks(self, passes: list[tuple[list[Page], bool]]) -> Iterator[Iterator[Page]]:
        for pages, mismatch in passes:

            def walk(pages: list[Page] = pages, mismatch: bool = mismatch) -> Iterator[Page]:
                yield from pages
                if mismatch:
                    raise CountMismatch("the count changed from 5 to 4", url="/users")

            yield walk()

    def test_a_restart_hands_on_only_the_pass_that_added_up(self) -> None:
        stale, fresh = [page(0, 3)], [page(1, 2), page(3, 2)]
        passes = self.walks([(stale, True), (fresh, False)])
        restarts: list[int] = []
        got = list(whole_pages(lambda: next(passes), "users", 1, restarts.append))
        assert got == fresh
        assert restarts == [1]

    def test_nothing_is_handed_on_before_the_pass_ends(self) -> None:
        passes = self.walks([([page(0, 2)], True), ([page(0, 2)], True)])
        pages = whole_pages(lambda: next(passes), "users", 1, lambda _n: None)
        with pytest.raises(CountMismatch, match="still did not add up after pulling users again"):
            next(pages)

    def test_without_restarts_the_first_mismatch_is_raised_as_it_is(self) -> None:
        passes = self.walks([([page(0, 2)], True)])
        with pytest.raises(CountMismatch, match=r"^the count changed from 5 to 4$"):
            list(whole_pages(lambda: next(passes), "users", 0, lambda _n: None))
