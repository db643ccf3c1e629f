"""The pages of a collection after its first, fetched side by side (decision 0032).

Once the first page has told the collection's total (`X-Total-Count`), the rest is cut into spans
of offsets (`Paginator.spans`), one page each, and up to `workers` spans are fetched at a time by
a small thread pool. Each page is checked by `Paginator.take` as it arrives, in whatever order
(the same total, never the same page twice); a span whose page came back short is fetched on from
where that page ended, so no offset in the total goes unasked.

Pages are handed on by offset, as a sequential pull would hand them on, so what a run does with
a collection (which records come first in a plan's kept examples, say) never depends on which
answer came back first. Memory stays bounded: a span starts only while fewer than `_AHEAD` ×
`workers` spans are ahead of the first one not yet handed on.

The first failure stops the pull: spans not started are cancelled, the pages under way are waited
for (and dropped), and the error is raised to the caller, who then has not seen the whole
collection. How many requests are in flight at once, over every pull of a client, is bounded by
the client (`OneRosterClient`), and each one still goes through the retry and budget transports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from rostersync.oneroster.paging import Paginator

__all__ = ["Fetch", "Page", "fetch_spans"]

Page = list[dict[str, Any]]
# One checked page at an offset: its records and the response's headers.
Fetch = Callable[[int], tuple[Page, Mapping[str, str]]]
_Fetched = list[tuple[int, Page, Mapping[str, str]]]
# Spans started ahead of the first not yet handed on, per worker: the pages waiting for an earlier
# one to arrive are bounded, and one slow page does not stop the others for long.
_AHEAD = 2


def _fill(fetch: Fetch, start: int, end: int, stop: threading.Event) -> _Fetched:
    """The pages covering offsets `[start, end)`: one, unless the server sends short pages."""
    fetched: _Fetched = []
    offset = start
    while offset < end and not stop.is_set():
        items, headers = fetch(offset)
        # A page longer than its span is kept whole: more records than the total said is a count
        # that does not add up (`Paginator.check_complete`), never records quietly dropped.
        fetched.append((offset, items, headers))
        if not items:
            break  # `Paginator.take` says why this is not the end
        offset += len(items)
    return fetched


def fetch_spans(
    fetch: Fetch,
    spans: list[tuple[int, int]],
    paginator: Paginator,
    *,
    workers: int,
    on_page: Callable[[int], None] | None = None,
) -> Iterator[Page]:
    """Each page of `spans`, checked by `paginator.take` as it arrives, handed on by offset.

    Args:
        fetch: Fetches and checks one page at an offset (signed, retried, within the budget).
        spans: The `[start, end)` ranges of offsets still to fetch (`Paginator.spans`).
        paginator: Checks each page and counts what arrived.
        workers: Spans fetched at the same time, at most.
        on_page: Told the records received so far after each page arrived.

    Raises:
        Whatever `fetch` or `paginator.take` raised for the first page that failed.
    """
    running: dict[Future[_Fetched], int] = {}
    arrived: dict[int, _Fetched] = {}
    started = handed = 0
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rostersync-pages")
    try:
        while handed < len(spans):
            while (
                len(running) < workers
                and started < len(spans)
                and started - handed < _AHEAD * workers
            ):
                future = pool.submit(_fill, fetch, *spans[started], stop)
                running[future] = started
                started += 1
            if handed in arrived:
                for _offset, items, _headers in arrived.pop(handed):
                    yield items
                handed += 1
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                number = running.pop(future)
                fetched = future.result()
                # Checked as they arrive: a failing page stops the pull at once.
                for offset, items, headers in fetched:
                    paginator.take(offset, items, headers)
                    if on_page is not None:
                        on_page(paginator.received)
                arrived[number] = fetched
    finally:
        # Spans not started are dropped; those under way end after their page (its retries
        # included), so no request of this pull is still out when the caller hears how it ended.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
