"""Roster sources: where a pull's records come from. The pipeline does not care which."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, runtime_checkable

import httpx
import msgspec

from rostersync.domain.records import EntityKind, Record
from rostersync.domain.unchanged_rows import KnownRows, UnchangedRow
from rostersync.oneroster.auth import OAuth1Auth
from rostersync.oneroster.client import DEFAULT_PAGE_CONCURRENCY, OneRosterClient
from rostersync.oneroster.mapping import MAPPERS
from rostersync.sync.enrollment_spool import EnrollmentSpool, SpoolFilled
from rostersync.sync.rest_enrollments import RestEnrollments

# Collections in dependency order, and the portal kinds each one feeds.
COLLECTIONS: tuple[tuple[str, tuple[EntityKind, ...]], ...] = (
    ("orgs", (EntityKind.ORG,)),
    ("academicSessions", (EntityKind.ACADEMIC_SESSION,)),
    ("courses", (EntityKind.COURSE,)),
    ("classes", (EntityKind.CLASS,)),
    ("users", (EntityKind.STUDENT, EntityKind.EDUCATOR)),
    ("enrollments", (EntityKind.ENROLLMENT,)),
)

Progress = Callable[[str, int], None]


@dataclass(slots=True)
class PullStats:
    """What one pull did: records per collection, requests and retries."""

    records: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0


class _Closeable(Protocol):
    def close(self) -> None: ...


class RosterSource(Protocol):
    """A full snapshot of a district's roster, streamed record by record."""

    stats: PullStats

    def records(self, progress: Progress | None = None) -> Iterator[Record | UnchangedRow]:
        """Yield every source record, collection by collection in dependency order (a row the
        source was offered as known, `BundleSource.offer_known`, may come as an `UnchangedRow`).

        Raises a `SourceError` when the source fails; a collection that ended early raises
        `IncompleteSourceError` rather than ending quietly.
        """
        ...

    def complete_kinds(self) -> set[EntityKind]:
        """After `records` is exhausted: the kinds that arrived whole and non-empty."""
        ...


# A record's JSON as sent, for its hash: decoded pages keep the order the server sent keys in.
_ENCODER = msgspec.json.Encoder()


class ClientSource:
    """Any `OneRosterClient` as a roster source, with the wire mapping of its OneRoster version.

    The one pull loop of every REST door: collections in dependency order, each paged by the
    client (held back until whole while a restart is possible) and mapped record by record. A
    sync's enrollments are instead pulled by a thread straight into the run's spool
    (`read_enrollments_aside`, `sync.rest_enrollments`) while this loop pulls the rest.

    Args:
        client: The client to pull with; closed when the pull ends.
        mappers: Wire-to-record functions by collection (`MAPPERS` or `MAPPERS_V1P2`).
        closing: More things to close with the client (a token client, a proxy directory).
        filter: A OneRoster filter sent with every collection (a delta's `dateLastModified>'…'`).
    """

    def __init__(
        self,
        client: OneRosterClient,
        mappers: Mapping[str, Callable[[object], Record]] = MAPPERS,
        *,
        closing: tuple[_Closeable, ...] = (),
        filter: str | None = None,
    ) -> None:
        self.stats = PullStats()
        self._client = client
        self._mappers = mappers
        self._closing = closing
        self.filter = filter
        # The enrollments' pull into a spool, when one was started; the client is closed once
        # both it and `records` are done with it.
        self._aside: RestEnrollments | None = None
        self._users = 1
        self._users_lock = threading.Lock()
        # Rows the portal holds, offered by the run (`offer_known`); while offered, the client
        # stays open after the pull, for a run that reads it again (`rewind`, `release`).
        self._known: KnownRows | None = None
        self._kept_open = False

    # `first_record` may read it without holding its collections back.
    peekable = True

    def records(
        self, progress: Progress | None = None, *, held: bool = True
    ) -> Iterator[Record | UnchangedRow]:
        """Every record (see `RosterSource.records`); with `held=False`, each page is handed on as
        it arrives and never pulled again, for a caller that reads only the start."""
        try:
            for collection, _kinds in COLLECTIONS:
                if self._aside is not None:
                    if collection == "users":
                        # Once schools and classes arrived whole: a source that fails early
                        # is not asked for its enrollments.
                        self._aside.start()
                    elif collection == "enrollments":
                        continue  # pulled into the spool by `read_enrollments_aside`
                mapper = self._mappers[collection]
                count = 0
                # Progress comes from the pages as they arrive: a collection's records are
                # handed on only once it arrived whole (a restart starts from nothing).
                pages = None if progress is None else partial(progress, collection)
                sift = self._sifter(collection, mapper)
                for raw in self._client.iter_collection(
                    collection, filter=self.filter, on_page=pages, held=held
                ):
                    count += 1
                    if sift is not None and (unchanged := sift(raw)) is not None:
                        yield unchanged
                        continue
                    yield mapper(raw)
                self.stats.records[collection] = count
                if progress is not None:
                    progress(collection, count)
        finally:
            # Reported even when the pull fails, so a run's record shows how far it got.
            self._count_requests()
            if self._known is None or self.filter is not None:
                self._release()
            else:
                self._kept_open = True

    def offer_known(self, known: KnownRows) -> None:
        """Hand on a class or user the portal holds unchanged (its JSON as sent hashed with
        `known`) as an `UnchangedRow`, not a record; call before `records`, and `release` once
        the run is done with the source (it may `rewind` and read it again meanwhile)."""
        self._known = known

    def rewind(self) -> None:
        """Forget a read (its counts, its enrollments' pull, rows offered as known), to read the
        source again with the same client."""
        self.stats = PullStats()
        self._known = None
        self._aside = None  # cancelled with the spool it filled, which let go of the client
        with self._users_lock:
            self._users += 1  # the next read's, before the last read lets go
        if self._kept_open:
            self._kept_open = False
            self._release()

    def release(self) -> None:
        """The run is done with a source it offered known rows: close the client when unused."""
        if self._kept_open:
            self._kept_open = False
            self._release()

    def _sifter(
        self, collection: str, mapper: Callable[[object], Record]
    ) -> Callable[[object], UnchangedRow | None] | None:
        known = self._known
        if known is None or self.filter is not None:
            return None  # a filtered pull is a delta: its absences mean nothing
        sift = known.byte_sifter(collection, f"rest\x1e{mapper.__module__}.{mapper.__qualname__}")
        if sift is None:
            return None
        encode = _ENCODER.encode

        def sift_raw(raw: object) -> UnchangedRow | None:
            if type(raw) is not dict:
                return None
            sid, stamp = raw.get("sourcedId"), raw.get("dateLastModified")
            if type(sid) is not str:
                return None
            return sift(sid.strip(), stamp if type(stamp) is str else None, encode(raw))

        return sift_raw

    def read_enrollments_aside(
        self, spool: EnrollmentSpool, progress: Progress | None = None
    ) -> bool:
        """Pull the enrollments into `spool` from a thread while `records` pulls the people (see
        `sync.rest_enrollments`); call it before `records`, which starts the thread once the
        collections before users arrived whole. Returns True: it always does.

        The spool's `chunks` then read them once the whole collection arrived, and its `wait`
        raises what stopped the pull, failing the run before anything is written.
        """
        if self._aside is not None:
            return False
        with self._users_lock:
            self._users += 1
        aside = RestEnrollments(
            self._client,
            self._mappers["enrollments"],
            self.filter,
            spool,
            progress=progress,
            done=self._release,
        )
        spool.attach(_Counted(self, aside, progress))
        self._aside = aside
        return True

    def _count_requests(self) -> None:
        self.stats.requests = self._client.stats.requests
        self.stats.retries = self._client.stats.retries

    def _release(self) -> None:
        """One user of the client is done with it; the last closes it and what goes with it."""
        with self._users_lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self._client.close()
            for other in self._closing:
                other.close()

    def complete_kinds(self) -> set[EntityKind]:
        """The kinds whose collection arrived whole and non-empty."""
        # The client raised if any page was missing, so a finished collection is whole; an empty
        # one is still never taken to mean that everyone left. Enrollments pulled aside are
        # counted once their pull is done, which may be after this is asked: a pull that failed
        # fails the run, and the enrollment plan never takes an empty pull for a snapshot.
        return {
            kind
            for collection, kinds in COLLECTIONS
            if self.stats.records.get(collection, 0) > 0
            or (collection == "enrollments" and self._aside is not None)
            for kind in kinds
        }


class _Counted:
    """The enrollments' pull as the spool's helper, telling the source its counts when done."""

    def __init__(
        self, source: ClientSource, aside: RestEnrollments, progress: Progress | None
    ) -> None:
        self._source, self._aside, self._progress = source, aside, progress

    def written(self) -> Iterator[int]:
        return self._aside.written()

    def result(self) -> SpoolFilled:
        try:
            filled = self._aside.result()
        finally:
            self._source._count_requests()
        self._source.stats.records["enrollments"] = self._aside.records
        if self._progress is not None:
            self._progress("enrollments", self._aside.records)
        return filled

    def cancel(self) -> None:
        self._aside.cancel()


class OneRosterRestSource(ClientSource):
    """A OneRoster 1.1 REST server (a ClassLink Roster Server) signed with OAuth 1.0a."""

    def __init__(
        self,
        base_url: str,
        key: str,
        secret: str,
        *,
        page_size: int = 1000,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        filter: str | None = None,
        page_concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        client = OneRosterClient(
            base_url,
            OAuth1Auth(key, secret),
            page_size=page_size,
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            page_concurrency=page_concurrency,
            transport=transport,
        )
        super().__init__(client, MAPPERS, filter=filter)


def first_record(source: RosterSource) -> Record | None:
    """The first record a source shares (a REST source's first org), for Test connection.

    A REST source reads it in one request: its collection is not held back until whole, as a
    sync's pull is (`OneRosterClient.iter_collection`), since nothing here is kept.
    """
    records = source.records(held=False) if isinstance(source, Peekable) else source.records()
    try:
        first = next(records, None)
        # Only a source offered known rows (never here) sends an `UnchangedRow`.
        return None if isinstance(first, UnchangedRow) else first
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


@runtime_checkable
class Peekable(Protocol):
    """A source whose records may be read without holding its collections back."""

    peekable: bool

    def records(
        self, progress: Progress | None = None, *, held: bool = True
    ) -> Iterator[Record | UnchangedRow]:
        """As `RosterSource.records`; `held=False` hands each page on as it arrives."""
        ...
