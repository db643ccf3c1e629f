"""A REST pull's enrollments, pulled straight into the run's spool by a thread (decision 0032).

The bundle path reads a big enrollments.csv into the spool in a helper process while the run reads
the rest (`sync.enrollment_reader`); over REST, the same spool is filled by a thread of the run,
pulling the enrollments collection while the run pulls, validates and matches the people. The
thread starts once the collections before users (schools, sessions, courses, classes) arrived
whole, so a source that fails early is not asked for its enrollments. As with the helper:

- each page is mapped and written to the spool as rows (`EnrollmentSpool`, through a descriptor
  of the run's own spool file), so no page of enrollments is held, in memory or on disk, as the
  JSON it came as; memory holds a chunk of rows and the pages in flight;
- a pass whose count did not add up (records came or went mid-pull) is pulled again from offset
  0 into the same file, from nothing, as the client's held pull would (`max_restarts`);
- chunks are reported (`written`) only once the whole collection arrived, so the plan never sees
  an enrollment from a pass that was started again; a pull that failed raises from `result`,
  which fails the run before anything is written or deactivated;
- requests go through the same client as the rest of the pull: signed, retried, within the
  shared budget, and within the client's bound on requests in flight.

Progress (the enrollments spooled) is told from the run's own thread, as the plan reads chunks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

from rostersync.domain.records import Enrollment, Record
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.mapping import to_enrollment
from rostersync.oneroster.paging import CountMismatch
from rostersync.sync.enrollment_rows import wire_row
from rostersync.sync.enrollment_spool import EnrollmentSpool, SpoolFilled

__all__ = ["RestEnrollments"]

COLLECTION = "enrollments"


class _Cancelled(Exception):
    """The run ended before the pull did."""


class RestEnrollments:
    """A thread filling `spool` with a REST source's enrollments; the spool's `SpoolHelper`.

    Args:
        client: The source's client (shared with the run's own pull).
        mapper: Wire enrollment to `Enrollment` (the source's OneRoster version).
        filter: The OneRoster filter of the pull (a delta's), if any.
        spool: The run's spool; `attach` it to this helper, then `start`.
        progress: Told the enrollments spooled, from the caller's thread.
        done: Called once when the pull ended (well or not), or was cancelled before it
            started: to release the client.
    """

    def __init__(
        self,
        client: OneRosterClient,
        mapper: Callable[[object], Record],
        filter: str | None,
        spool: EnrollmentSpool,
        *,
        progress: Callable[[str, int], None] | None = None,
        done: Callable[[], None] | None = None,
    ) -> None:
        self._client, self._mapper, self._filter = client, mapper, filter
        self._fileno, self._chunk = spool.fileno, spool.chunk
        self._progress, self._done = progress, done
        self._stop = threading.Event()
        self._filled: SpoolFilled | None = None
        self._error: BaseException | None = None
        self._taken = False
        self._started = False
        self._released = False
        self._lock = threading.Lock()
        self.records = 0
        self._thread = threading.Thread(
            target=self._run, name="rostersync-rest-enrollments", daemon=True
        )

    def start(self) -> None:
        """Start pulling, unless started or cancelled already."""
        with self._lock:
            if self._started or self._stop.is_set():
                return
            self._started = True
        self._thread.start()

    def _run(self) -> None:
        try:
            self._filled = self._pull()
        except BaseException as exc:  # raised to the run by `result`
            self._error = exc
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            released, self._released = self._released, True
        if not released and self._done is not None:
            self._done()

    def _pull(self) -> SpoolFilled:
        restarts = self._client.max_restarts
        for restart in range(restarts + 1):
            try:
                return self._one_pass()
            except CountMismatch as exc:
                if restart >= restarts:
                    if not restart:
                        raise
                    raise CountMismatch(
                        f"{exc}; it still did not add up after pulling {COLLECTION} again. The "
                        "source is changing or miscounting: run the sync again later",
                        url=exc.url,
                    ) from exc
                self._client.note_restart(COLLECTION, restart + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _one_pass(self) -> SpoolFilled:
        """Map and spool every page of one pass, from the start of the spool file."""
        # A descriptor of our own: closing this writer leaves the run's spool open.
        file = os.fdopen(os.dup(self._fileno), "r+b")
        writer = EnrollmentSpool(self._chunk, file=file)
        try:
            mapper, records, add = self._mapper, 0, writer.add_row
            # OneRoster's own mapper has a short cut to spool rows (`sync.enrollment_rows`).
            direct = mapper is to_enrollment
            for page in self._client.iter_pass(COLLECTION, filter=self._filter):
                if self._stop.is_set():
                    raise _Cancelled
                for raw in page:
                    if direct:
                        add(wire_row(raw))
                        continue
                    enrollment = mapper(raw)
                    assert isinstance(enrollment, Enrollment)  # the enrollments mapper's
                    writer.add(enrollment)
                records += len(page)
            offsets = writer.flush()
            self.records = records
            return SpoolFilled(
                offsets=tuple(offsets),
                count=writer.count,
                issues=tuple(writer.issues),
                repeated=frozenset(writer.repeated()),
            )
        finally:
            writer.close()

    def written(self) -> Iterator[int]:
        """Where each chunk ends, once the whole collection is in the spool (never before: a
        pass started again rewrites it); nothing when the pull failed (`result` raises)."""
        self.start()
        self._thread.join()
        filled = self._filled
        if filled is None:
            return
        for number, end in enumerate(filled.offsets[1:]):
            if self._progress is not None and number:
                self._progress(COLLECTION, min(number * self._chunk, filled.count))
            yield end

    def result(self) -> SpoolFilled:
        """Wait for the pull (starting it, if it was not); what it spooled, or what stopped it,
        raised here.

        Raises:
            SourceError: The pull failed (a page refused, a count that never added up, …).
        """
        if self._taken:
            raise RuntimeError("the enrollment pull's result was already taken")
        self._taken = True
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._filled is not None
        return self._filled

    def cancel(self) -> None:
        """Stop after the pages under way, and wait for them (the run ended or failed first);
        idempotent."""
        with self._lock:
            self._stop.set()
            started = self._started
        if started:
            self._thread.join()
        else:
            self._release()
