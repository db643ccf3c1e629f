"""Rows a resync can know unchanged before mapping them (docs/decisions/0046).

A bundle's classes.csv and 1.1 users.csv rows, and a REST pull's classes and users, are hashed
as they are read (a row's cells, a record's JSON as sent), together with everything else their
record depends on: the district's rules, the bundle's version and the file's columns or the REST
mapping, and `ROW_FORMAT`. When the portal holds an active record under the
row's sourcedId that was written from a row with that same hash, and has not been changed since
(its content hash is still the one it was written with), the row is not mapped, validated,
matched or planned: it becomes an `UnchangedRow`, which counts as an unchanged, valid record of
the pull. Any other row goes the usual way, and its hash is kept (`KnownRows.read`) so the
portal can store it with the record.

The pipeline checks afterwards that nothing an unchanged row depends on outside itself moved
(the schools, terms and courses it points at, and the uniqueness of emails and student IDs);
when something did, the run reads the pull again without this short cut.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from hashlib import blake2b

from rostersync.domain.records import EntityKind
from rostersync.domain.rules import DistrictRules

__all__ = ["FILES", "ROW_FORMAT", "KnownRows", "UnchangedRow", "basis_of"]

# Bumped whenever reading a row into a record changes, so every stored row hash goes stale.
ROW_FORMAT = "1"

# The files whose rows may be known unchanged, and the kinds their records become.
FILES: Mapping[str, tuple[EntityKind, ...]] = {
    "classes": (EntityKind.CLASS,),
    "users": (EntityKind.STUDENT, EntityKind.EDUCATOR),
}

# Hex digits of a row hash: 64 bits, so two different rows of one record share a hash about
# once in 10**19 changes.
HASH_BYTES = 8


@dataclass(frozen=True, slots=True)
class UnchangedRow:
    """A row known unchanged from its hash: the portal's record of `kind` stands as it is."""

    kind: EntityKind
    sourced_id: str
    date_last_modified: str | None


def basis_of(rules: DistrictRules) -> str:
    """What, besides its own cells, a row's record depends on: the district's answers."""
    return "\x1f".join(f"{f.name}={getattr(rules, f.name)}" for f in fields(rules))


@dataclass(slots=True)
class KnownRows:
    """The row hashes the portal holds, per file, and the hashes of the rows read this pull.

    `stored[file][sourcedId]` is (row hash, kind) for every record that may be skipped;
    `read[file][sourcedId]` gets the hash of every row of `file` that was read the usual way
    (the first row of a sourcedId, as the pull keeps the first); `unchanged[file]` counts the
    rows known unchanged.
    """

    basis: str
    stored: dict[str, dict[str, tuple[str, EntityKind]]]
    read: dict[str, dict[str, str]] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def sifter(
        self, file: str, version: str, columns: Sequence[str]
    ) -> Callable[[list[str]], UnchangedRow | None] | None:
        """For the CSV rows of `file` (cells in `columns` order): the row's `UnchangedRow` when
        the portal holds it unchanged, None (and its hash kept) otherwise. None when `file`'s
        rows are never known unchanged."""
        sift = self.byte_sifter(file, "\x1e".join((version, "\x1f".join(columns))))
        if sift is None:
            return None
        at_sid, at_stamp = columns.index("sourcedId"), columns.index("dateLastModified")

        def sift_row(row: list[str]) -> UnchangedRow | None:
            data = "\x1f".join(row).encode("utf-8", "surrogatepass")
            return sift(row[at_sid].strip(), row[at_stamp] or None, data)

        return sift_row

    def byte_sifter(
        self, file: str, layout: str
    ) -> Callable[[str, str | None, bytes], UnchangedRow | None] | None:
        """For the records of `file` sent as `layout` (a bundle's version and columns, a REST
        mapping): given a record's sourcedId, dateLastModified and bytes as sent, its
        `UnchangedRow` when the portal holds it unchanged, None (and its hash kept) otherwise.
        None when `file`'s records are never known unchanged."""
        if file not in FILES:
            return None
        known = self.stored.get(file, {})
        read = self.read.setdefault(file, {})
        self.unchanged.setdefault(file, 0)
        prefix = "\x1e".join((ROW_FORMAT, self.basis, file, layout, ""))
        start = prefix.encode("utf-8", "surrogatepass")
        counts = self.unchanged

        def sift(sid: str, stamp: str | None, data: bytes) -> UnchangedRow | None:
            digest = blake2b(start + data, digest_size=HASH_BYTES).hexdigest()
            hit = known.get(sid)
            if hit is not None and hit[0] == digest:
                counts[file] += 1
                return UnchangedRow(hit[1], sid, stamp)
            if sid not in read:
                read[sid] = digest
            return None

        return sift

    def hashes_for(self, kind: EntityKind) -> Mapping[str, str]:
        """The hashes of the rows read the usual way whose records may be of `kind`."""
        for file, kinds in FILES.items():
            if kind in kinds:
                return self.read.get(file, {})
        return {}

    @property
    def skipped_any(self) -> bool:
        """Whether any row was known unchanged."""
        return any(self.unchanged.values())
