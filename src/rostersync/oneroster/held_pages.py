"""The pages of one collection pull, held back until the whole collection has arrived.

A pull that has to start again (the collection's count changed between pages: records came or
went) must start from nothing. Records already handed on cannot be taken back: a student removed
between two pages would stay in the run, and stay active in the portal. So a collection whose
pull may be restarted is held here, page by page, and handed on only once it arrived whole.

The first pages are kept in memory; past `memory_records` records every page goes to an unnamed
temporary file (deleted by the operating system when closed, never left behind), so a pull of
millions of enrollments costs disk, not memory. Pages are written with `marshal`, which stores
exactly the JSON types a page holds (dict, list, str, int, float, bool, None) and reads them
back fast; the file is read only by the process that wrote it.
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any

from rostersync.oneroster.paging import CountMismatch

__all__ = ["MEMORY_RECORDS", "HeldPages", "whole_pages"]

# About twenty pages of 1,000 users: a small district's collections never touch the disk.
MEMORY_RECORDS = 20_000

Page = list[dict[str, Any]]


class HeldPages:
    """The pages of one collection pass, in arrival order; use as a context manager.

    Args:
        memory_records: Records kept in memory before pages go to a temporary file.
    """

    def __init__(self, memory_records: int = MEMORY_RECORDS) -> None:
        self._memory_records = memory_records
        self._pages: list[Page] = []
        self._in_memory = 0
        self._file: IO[bytes] | None = None
        self._on_disk = 0
        self.records = 0

    def add(self, page: Page) -> None:
        """Hold one page (its records are not looked at)."""
        self.records += len(page)
        if self._file is None and self._in_memory + len(page) <= self._memory_records:
            self._pages.append(page)
            self._in_memory += len(page)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="rostersync-pages-")  # noqa: SIM115
        marshal.dump(page, self._file)
        self._on_disk += 1

    def __iter__(self) -> Iterator[Page]:
        """Each page held, in the order it arrived (memory first, then the file)."""
        yield from self._pages
        if self._file is not None:
            self._file.seek(0)
            for _ in range(self._on_disk):
                page: Page = marshal.load(self._file)  # noqa: S302 (our own file)
                yield page

    def close(self) -> None:
        """Let the pages go and delete the temporary file, if one was made."""
        self._pages = []
        self._in_memory = 0
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> HeldPages:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def whole_pages(
    walk: Callable[[], Iterable[Page]],
    collection: str,
    max_restarts: int,
    restarted: Callable[[int], None],
) -> Iterator[Page]:
    """The pages of the first pass of `walk` that arrives whole, yielded only once it has.

    Args:
        walk: Starts one pass over the collection from offset 0; raises `CountMismatch` when the
            count did not add up (records came or went between its pages).
        collection: The collection's name, for the message.
        max_restarts: Passes started again after a `CountMismatch`, at most.
        restarted: Told the number of each restart (1, 2, …) before it starts.

    Raises:
        CountMismatch: The last pass allowed did not add up either; nothing was yielded.
    """
    for restart in range(max_restarts + 1):
        held = HeldPages()
        try:
            for page in walk():
                held.add(page)
        except CountMismatch as exc:
            held.close()  # nothing of this pass was handed on: the next one starts from nothing
            if restart >= max_restarts:
                if not restart:
                    raise
                raise CountMismatch(
                    f"{exc}; it still did not add up after pulling {collection} again. The "
                    "source is changing or miscounting: run the sync again later",
                    url=exc.url,
                ) from exc
            restarted(restart + 1)
            continue
        except BaseException:
            held.close()
            raise
        with held:
            yield from held
        return
