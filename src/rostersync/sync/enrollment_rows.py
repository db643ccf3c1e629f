"""A bundle's enrollments.csv straight to spool rows, each cell read once.

Enrollments are more than four in five of a district's records, and every one is spooled as a
plain tuple with its content hash (`sync.enrollment_spool`). Going through the general reader
made four objects per row on the way: a dict of cells, the OneRoster JSON shape, an
`Enrollment`, then the tuple. Here the tuple is made from the cells directly, with the same
normalisation the mapper applies (`oneroster.mapping`: ids trimmed, status read by
`record_status`, `primary` by `flag`, empty dates as none) and the same content hash, so a
row spooled here is equal to one spooled from its `Enrollment`: the portal's stored hashes, and
every test of the mapper, hold for both. `tests/unit/sync/test_enrollment_rows.py` checks that
equality on generated cells.

A REST page's enrollments (`wire_row`) take the same short cut when they have the usual shape
(text or null values, references as objects with a text `sourcedId`), and go through the mapper
otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from sys import intern

from rostersync.domain.records import digest_of
from rostersync.oneroster.bundle import Bundle
from rostersync.oneroster.bundle_schema import columns_for
from rostersync.oneroster.mapping import flag, record_status, to_enrollment
from rostersync.sync.enrollment_spool import FIELDS, HASHED, Row, row_of

__all__ = ["COLUMNS", "bundle_rows", "spool_rows", "wire_row"]

# The CSV column each spooled field is read from, in the spool's field order.
COLUMNS: dict[str, str] = {
    "sourced_id": "sourcedId",
    "status": "status",
    "date_last_modified": "dateLastModified",
    "class_sourced_id": "classSourcedId",
    "school_sourced_id": "schoolSourcedId",
    "user_sourced_id": "userSourcedId",
    "role": "role",
    "primary": "primary",
    "begin_date": "beginDate",
    "end_date": "endDate",
}


# At most this many distinct cells of a column are remembered (a file of odd cells stays small).
_DISTINCT = 64


def spool_rows(spec: Sequence[str], cells: Iterator[list[str]]) -> Iterator[Row]:
    """Each enrollments.csv row (`spec` its columns, as `Bundle.cells` gives them) as the spool
    keeps it: the `Enrollment` fields in order, then the content hash."""
    at = {column: i for i, column in enumerate(spec)}
    sid, status, modified, klass, school, user, role, primary, begin, end = (
        at[COLUMNS[name]] for name in FIELDS
    )
    # A district writes a handful of distinct status and `primary` cells: each is read once.
    statuses: dict[str, str] = {}
    flags: dict[str, bool] = {}
    for row in cells:
        stamp, state, first = row[modified], row[status], row[primary]
        kept = statuses.get(state)
        if kept is None:
            kept = record_status(state)
            if len(statuses) < _DISTINCT:
                statuses[state] = kept
        is_primary = flags.get(first)
        if is_primary is None:
            is_primary = flag(first, default=False)
            if len(flags) < _DISTINCT:
                flags[first] = is_primary
        values = (
            row[sid].strip(),
            kept,
            # One shared string per stamp and per school, as the mapper keeps them; class and
            # user ids are not interned (see `oneroster.bundle_rows`).
            intern(stamp) if stamp else None,
            row[klass].strip(),
            intern(row[school]).strip(),
            row[user].strip(),
            intern(row[role]),
            is_primary,
            row[begin] or None,
            row[end] or None,
        )
        yield (*values, digest_of(HASHED(values)))


def bundle_rows(bundle: Bundle) -> Iterator[Row]:
    """The enrollments of an open bundle as spool rows (none when its manifest marks them absent).

    Raises:
        BundleError: enrollments.csv is refused, as `Bundle.records` would refuse it.
    """
    return spool_rows(columns_for(bundle.version, "enrollments"), bundle.cells("enrollments"))


_TEXT = (str, type(None))


def wire_row(raw: object) -> Row:
    """`row_of(to_enrollment(raw))` for one OneRoster JSON enrollment, made directly when every
    value it reads is text or null and every reference an object with a text `sourcedId` (or
    null); through the mapper otherwise (odd shapes, and its error for a non-object).
    """
    if type(raw) is dict:
        get = raw.get
        sid, status, stamp = get("sourcedId"), get("status"), get("dateLastModified")
        role, primary, begin, end = get("role"), get("primary"), get("beginDate"), get("endDate")
        refs = (get("class"), get("school"), get("user"))
        if (
            isinstance(sid, _TEXT)
            and isinstance(status, _TEXT)
            and isinstance(stamp, _TEXT)
            and isinstance(role, _TEXT)
            and isinstance(begin, _TEXT)
            and isinstance(end, _TEXT)
            and isinstance(primary, str | bool | None)
            and all(
                ref is None or (type(ref) is dict and type(ref.get("sourcedId")) is str)
                for ref in refs
            )
        ):
            klass, school, user = (ref["sourcedId"].strip() if ref else "" for ref in refs)
            values = (
                sid.strip() if sid else "",
                record_status(status or ""),
                intern(stamp) if stamp else None,
                klass,
                school,
                user,
                role or "",
                flag(primary, default=False),
                begin or None,
                end or None,
            )
            return (*values, digest_of(HASHED(values)))
    return row_of(to_enrollment(raw))
