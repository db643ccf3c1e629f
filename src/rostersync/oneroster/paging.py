"""Offset paging for OneRoster collections: where the next page starts, and whether all arrived.

OneRoster 1.1 makes neither `X-Total-Count` nor the `Link` header mandatory, so the stop rules are
layered, most trusted first:

1. a `Link: <…>; rel="next"` on the same host: request the offset it names;
2. a total (`X-Total-Count`): stop once `offset + len(items) >= total`;
3. otherwise stop on an empty or short page.

Around them sit the guards: a `next` link that points at another host, or back at an offset already
requested, is ignored (we compute the offset ourselves); a page identical to the previous one means
the server ignores `offset`; a page cap stops a server that never ends. A collection that did not
arrive whole raises `IncompleteSourceError`, because a missing record would otherwise look like a
person who left the district. When the count does not add up (the total changed between pages,
or the records received differ from it), the error is a `CountMismatch`: the data changed under
the pull, and the client may start that collection again from offset 0.

With a total, the pages after the first may be fetched side by side (`spans`, then `take` for
each page in whatever order it arrives; decision 0032): every page is held to the same total, no
two pages may be the same page, and `check_complete` still says whether all arrived.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urljoin, urlsplit

import structlog

from rostersync.errors import IncompleteSourceError

__all__ = ["DEFAULT_MAX_PAGES", "CountMismatch", "Paginator", "next_link", "total_count"]

# 10,000 pages of 1,000 is ten million records, far beyond the largest district.
DEFAULT_MAX_PAGES = 10_000

_LINK_VALUE = re.compile(r"<([^>]*)>([^<]*)")
_REL_PARAM = re.compile(r""";\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)
_NO_DELETION = "nothing will be deactivated from this pull"

log = structlog.get_logger(__name__)


class CountMismatch(IncompleteSourceError):
    """The collection's count did not add up: it changed mid-pull or disagrees with the data.

    Offsets shift when records are added or removed between pages, so a record may have been
    skipped; pulling the collection again from offset 0 is the remedy.
    """


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # httpx.Headers is case-insensitive already; a plain dict from a test or another client is not.
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def total_count(headers: Mapping[str, str]) -> int | None:
    """The collection size from `X-Total-Count` (any case), or None when absent or not a count."""
    raw = _header(headers, "X-Total-Count")
    if raw is None:
        return None
    try:
        total = int(raw.strip())
    except ValueError:
        return None
    return total if total >= 0 else None


def next_link(headers: Mapping[str, str]) -> str | None:
    """The target of the RFC 8288 `Link` value whose rel includes `next`, if any."""
    raw = _header(headers, "Link")
    if not raw:
        return None
    for link in _LINK_VALUE.finditer(raw):
        for match in _REL_PARAM.finditer(link.group(2)):
            rels = (match.group(1) or match.group(2) or "").lower().split()
            if "next" in rels:
                return link.group(1).strip()
    return None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _first_and_last_ids(items: Sequence[object]) -> tuple[object, object] | None:
    if not items:
        return None
    first, last = items[0], items[-1]
    if isinstance(first, Mapping) and isinstance(last, Mapping):
        return first.get("sourcedId"), last.get("sourcedId")
    return None


class Paginator:
    """Decides the next offset of one collection pull and checks that the pull was complete.

    Use it as a loop: request `offset`, call `advance` with the page, stop when it returns None,
    then call `check_complete`.

    Args:
        collection: The collection name, used in messages (`users`, `classes`, …).
        limit: The page size sent as `limit`.
        base_url: The URL the pages are requested from; `next` links are resolved against it and
            only followed on its host, because we sign and send every request ourselves.
        max_pages: The most pages one pull may take before it is declared runaway.
    """

    def __init__(
        self,
        collection: str,
        *,
        limit: int,
        base_url: str,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.collection = collection
        self.limit = limit
        self.max_pages = max_pages
        self.offset = 0
        self.pages = 0
        self.received = 0
        self.total: int | None = None
        self._base_url = base_url
        self._path = urlsplit(base_url).path
        self._requested: set[int] = {0}
        self._last_page_ids: tuple[object, object] | None = None
        # The first and last sourcedIds of every page taken out of order (`take`).
        self._page_ids: set[tuple[object, object]] = set()

    def advance(self, items: Sequence[object], headers: Mapping[str, str]) -> int | None:
        """Record the page just received at `self.offset` and decide where the next one starts.

        Args:
            items: The records of the page (only their count and first/last sourcedId are read).
            headers: The page's response headers.

        Returns:
            The next offset to request (also stored in `self.offset`), or None when the pull is
            over.

        Raises:
            CountMismatch: The reported total differs from the one reported earlier in the pull.
            IncompleteSourceError: The server repeats the same page or exceeds the page cap.
        """
        count = len(items)
        self.pages += 1
        self.received += count
        reported = total_count(headers)
        if reported is not None and self.total is not None and reported != self.total:
            # Offsets shift when records come or go mid-pull: a record may have been skipped.
            raise CountMismatch(
                f"the source's count of {self.collection} changed from {self.total} to "
                f"{reported} during the pull (at offset {self.offset}); {_NO_DELETION}",
                url=self._path,
            )
        if reported is not None:
            self.total = reported

        page_ids = _first_and_last_ids(items)
        if page_ids is not None and page_ids == self._last_page_ids and None not in page_ids:
            raise IncompleteSourceError(
                f"the source sent the same page of {self.collection} again at offset "
                f"{self.offset}; it seems to ignore `offset`, so {_NO_DELETION}",
                url=self._path,
            )
        self._last_page_ids = page_ids

        upcoming = self._next_from_link(headers)
        if upcoming is None:
            upcoming = self._next_from_counts(count)
        if upcoming is None:
            return None
        if self.pages >= self.max_pages:
            raise IncompleteSourceError(
                f"{self.collection} did not end after {self.pages} pages ({self.received} records"
                f"); stopped there, and {_NO_DELETION}",
                url=self._path,
            )
        self._requested.add(upcoming)
        self.offset = upcoming
        return upcoming

    def spans(self, step: int) -> list[tuple[int, int]]:
        """After the first page, when a total is known: the offset ranges `[start, end)` the rest
        of the collection is in, `step` records each (the first page's size), to be fetched side
        by side and handed to `take` as they arrive.

        Raises:
            IncompleteSourceError: The total needs more pages than `max_pages` allows.
        """
        if self.total is None or step < 1:
            raise ValueError("spans need a total and a first page that was not empty")
        starts = range(self.received, self.total, step)
        if self.pages + len(starts) > self.max_pages:
            raise IncompleteSourceError(
                f"{self.collection} counts {self.total} records, more than {self.max_pages} pages "
                f"of {step}; not pulled, and {_NO_DELETION}",
                url=self._path,
            )
        if self._last_page_ids is not None:
            self._page_ids.add(self._last_page_ids)
        return [(start, min(start + step, self.total)) for start in starts]

    def take(self, offset: int, items: Sequence[object], headers: Mapping[str, str]) -> None:
        """Record a page of a span fetched side by side, in any order (see `spans`).

        Raises:
            CountMismatch: The page reports another total than the first page did.
            IncompleteSourceError: The page is one received already (the server ignores
                `offset`), or the pull took more than `max_pages` pages.
        """
        self.pages += 1
        self.received += len(items)
        reported = total_count(headers)
        if reported is not None and reported != self.total:
            raise CountMismatch(
                f"the source's count of {self.collection} changed from {self.total} to "
                f"{reported} during the pull (at offset {offset}); {_NO_DELETION}",
                url=self._path,
            )
        # An empty page inside the total leaves its span short: `check_complete` says so.
        page_ids = _first_and_last_ids(items)
        if page_ids is not None and None not in page_ids:
            if page_ids in self._page_ids:
                raise IncompleteSourceError(
                    f"the source sent the same page of {self.collection} again at offset "
                    f"{offset}; it seems to ignore `offset`, so {_NO_DELETION}",
                    url=self._path,
                )
            self._page_ids.add(page_ids)
        if self.pages > self.max_pages:
            raise IncompleteSourceError(
                f"{self.collection} did not end after {self.pages} pages ({self.received} records"
                f"); stopped there, and {_NO_DELETION}",
                url=self._path,
            )

    def _next_from_link(self, headers: Mapping[str, str]) -> int | None:
        target = next_link(headers)
        if target is None:
            return None
        resolved = urljoin(self._base_url, target)
        if _origin(resolved) != _origin(self._base_url):
            # We sign and send every request ourselves; a `next` on another host is not followed.
            log.warning(
                "oneroster.next_link_ignored", collection=self.collection, reason="other host"
            )
            return None
        offsets = [v for k, v in parse_qsl(urlsplit(resolved).query) if k == "offset"]
        try:
            offset = int(offsets[-1]) if offsets else -1
        except ValueError:
            offset = -1
        if offset < 0:
            log.warning(
                "oneroster.next_link_ignored", collection=self.collection, reason="no offset"
            )
            return None
        if offset in self._requested or offset <= self.offset:
            log.warning(
                "oneroster.next_link_ignored", collection=self.collection, reason="loops back"
            )
            return None
        return offset

    def _next_from_counts(self, count: int) -> int | None:
        if count == 0:
            return None
        if self.total is not None:
            # With a total, a short page is a server-side cap on `limit`, not the end.
            return None if self.offset + count >= self.total else self.offset + count
        return None if count < self.limit else self.offset + count

    def check_complete(self) -> None:
        """Raise unless the records received match the total the server reported.

        Raises:
            CountMismatch: A total was reported and a different number of records arrived.
        """
        if self.total is not None and self.received != self.total:
            raise CountMismatch(
                f"received {self.received} of {self.total} {self.collection}; {_NO_DELETION}. "
                "The source's count changed or a page went missing: run the sync again.",
                url=self._path,
            )

    def __repr__(self) -> str:
        return (
            f"Paginator(collection={self.collection!r}, offset={self.offset}, "
            f"pages={self.pages}, received={self.received}, total={self.total})"
        )
