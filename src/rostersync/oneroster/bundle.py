"""OneRoster 1.1 and 1.2 CSV bundles: vetted, then streamed straight out of the zip.

A bundle is a zip of CSV files with `manifest.csv` at its root. Nothing is ever extracted to
disk: each member is opened by name (`ZipFile.open`), decoded incrementally and fed line by line
to `csv.reader`, so memory stays flat however large the enrollments file is. Rows become the
OneRoster JSON shape and go through the same `MAPPERS` as the REST client, so one district gives
identical records whichever door it came through.

Before a single row is read, the zip is vetted (`BundleLimits`): member count, per-member and
total uncompressed size, the compression ratio of each member (a zip bomb), overlapping entries,
path tricks (`..`, absolute paths, backslashes, drive letters), nested folders, symlinks,
encrypted or oddly compressed members, nested archives and duplicate names (case-blind). The
declared sizes are then enforced again while reading by counting bytes, since zip headers can lie.

Encodings, the rule (`BundleLimits.encoding`):

- A UTF-8 BOM declares UTF-8; a UTF-16/UTF-32 BOM is refused with instructions.
- `"utf-8"`: strict UTF-8; an invalid byte is an error naming the file, line and byte offset.
- `"cp1252"`: Windows-1252 (what Excel's plain "CSV" writes), unless a UTF-8 BOM says otherwise.
- `"auto"` (default): UTF-8 first. At the first invalid byte, the file falls back to Windows-1252
  only if everything before it was plain ASCII (ASCII reads the same in both, so nothing already
  read changes). If valid UTF-8 letters came first, the file is UTF-8 with a bad byte: an error.

Every refusal is a `BundleError` (a `FatalSourceError`) naming the file, and where it applies the
line and column, and saying how to fix the bundle. Because the pipeline writes only after the whole
source has been read, a refused bundle writes nothing.
"""

from __future__ import annotations

import csv
import io
import itertools
import stat
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, overload

from rostersync.domain.records import Person, Record
from rostersync.domain.unchanged_rows import KnownRows, UnchangedRow
from rostersync.oneroster.bundle_limits import MB, BundleError, BundleLimits
from rostersync.oneroster.bundle_limits import size as _size
from rostersync.oneroster.bundle_limits import where as _where
from rostersync.oneroster.bundle_manifest import MODES, read_manifest
from rostersync.oneroster.bundle_people import people_11
from rostersync.oneroster.bundle_rows import CONVERTERS, Roles, users_11
from rostersync.oneroster.bundle_schema import READ_ORDER, columns_for
from rostersync.oneroster.bundle_text import Lines
from rostersync.oneroster.bundle_zip import (
    check_directory,
    check_overlap,
    check_path,
    file_size,
    open_member,
)
from rostersync.oneroster.mapping import MAPPERS

__all__ = ["MB", "MODES", "Bundle", "BundleError", "BundleLimits", "BundleStats"]

_ALLOWED_COMPRESSION = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_ARCHIVES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".jar")
# Operating-system litter that zip tools add; skipped with a notice rather than refused.
_JUNK_DIRS = ("__MACOSX/",)
_JUNK_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


@dataclass(slots=True)
class BundleStats:
    """What reading a bundle found: rows per file, skipped columns, encodings, notices."""

    rows: dict[str, int] = field(default_factory=dict)
    # Extension columns (`ext_*` and others beyond the spec) seen and not used, per file.
    ignored_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    bytes_read: int = 0


class Bundle:
    """An opened, vetted OneRoster CSV bundle whose records are streamed on demand.

    Use as a context manager; `open()` vets the zip and reads the manifest, `records()` streams.

        with Bundle("bundle.zip") as bundle:
            for collection, record in bundle.records():
                ...
    """

    def __init__(
        self,
        source: str | Path | bytes,
        *,
        limits: BundleLimits | None = None,
        name: str | None = None,
    ) -> None:
        """`name` is what messages call the whole bundle (default: its file's name); a working
        copy under a name of our own making is called what the person knows it as."""
        self._source = source
        self._name = name
        self.limits = limits or BundleLimits()
        self.stats = BundleStats()
        self.version = ""
        self.manifest: dict[str, str] = {}
        # Mode of every file rostersync reads: absent, bulk or delta.
        self.modes: dict[str, str] = {}
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._read_total = 0

    # Opening -----------------------------------------------------------------------------------
    def __enter__(self) -> Bundle:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the zip, vet every entry and read the manifest.

        Raises:
            BundleError: The zip or its manifest is refused; the message says why and how to fix it.
        """
        name = self._name or (
            "the bundle" if isinstance(self._source, bytes) else Path(self._source).name
        )
        size = len(self._source) if isinstance(self._source, bytes) else file_size(self._source)
        if size > self.limits.max_compressed_bytes:
            raise BundleError(
                f"{name} is {_size(size)}, over the {_size(self.limits.max_compressed_bytes)} "
                "limit for a bundle; raise the limit or send the files in smaller bundles",
                file=name,
            )
        stream: IO[bytes] | str | Path = (
            io.BytesIO(self._source) if isinstance(self._source, bytes) else self._source
        )
        try:
            if isinstance(self._source, bytes):
                check_directory(io.BytesIO(self._source), max_members=self.limits.max_members)
            else:
                with Path(self._source).open("rb") as handle:
                    check_directory(handle, max_members=self.limits.max_members)
            self._zip = zipfile.ZipFile(stream)
        # A damaged directory can also ask for a zip version nobody writes (NotImplementedError).
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            OSError,
            EOFError,
            NotImplementedError,
        ) as exc:
            raise BundleError(
                f"{name} is not a readable zip file ({exc}); export the OneRoster CSV bundle "
                "again as a .zip",
                file=name,
            ) from None
        try:
            self._members = self._vet(self._zip.infolist())
            self._read_manifest()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the zip (idempotent)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def _vet(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        limits = self.limits
        if len(infos) > limits.max_members:
            raise BundleError(
                f"the bundle has {len(infos)} entries, more than the {limits.max_members} "
                "allowed; a OneRoster bundle holds manifest.csv and at most 21 CSV files",
            )
        members: dict[str, zipfile.ZipInfo] = {}
        folded: dict[str, str] = {}
        total = 0
        for info in infos:
            name = info.filename
            check_path(name)
            if name.startswith(_JUNK_DIRS) or name.rsplit("/", 1)[-1] in _JUNK_FILES:
                self.stats.notices.append(f"skipped {name!r}: operating-system litter")
                continue
            if info.is_dir() or "/" in name:
                raise BundleError(
                    f"{name} is inside a folder; OneRoster bundles have no folders: zip the CSV "
                    "files themselves (select the files, not their folder)",
                    file=name,
                )
            if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
                raise BundleError(
                    f"{name} is a symbolic link; put the real file in the zip", file=name
                )
            if info.flag_bits & 0x41:  # bit 0 encrypted, bit 6 strong encryption
                raise BundleError(
                    f"{name} is encrypted; export the bundle without a password", file=name
                )
            if info.compress_type not in _ALLOWED_COMPRESSION:
                raise BundleError(
                    f"{name} uses an unsupported compression method ({info.compress_type}); "
                    "zip the bundle with ordinary (deflate) compression",
                    file=name,
                )
            if name.lower().endswith(_ARCHIVES):
                raise BundleError(
                    f"{name} is an archive inside the bundle; put its CSV files in the bundle "
                    "itself",
                    file=name,
                )
            if name.lower() in folded:
                raise BundleError(
                    f"the bundle holds both {folded[name.lower()]} and {name}; names must be "
                    "unique (ignoring case): remove one",
                    file=name,
                )
            folded[name.lower()] = name
            if (
                info.file_size > limits.ratio_floor_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                raise BundleError(
                    f"{name} expands {info.file_size // max(info.compress_size, 1)}:1 "
                    f"(over {limits.max_ratio:g}:1), the signature of a zip bomb; refused. "
                    "A real roster never compresses that well: export the bundle again",
                    file=name,
                )
            if info.file_size > limits.max_member_bytes:
                raise BundleError(
                    f"{name} is {_size(info.file_size)} uncompressed, over the "
                    f"{_size(limits.max_member_bytes)} limit for one file; raise the limit or "
                    "split the roster",
                    file=name,
                )
            total += info.file_size
            members[name] = info
        if total > limits.max_total_bytes:
            raise BundleError(
                f"the bundle's files add up to {_size(total)} uncompressed, over the "
                f"{_size(limits.max_total_bytes)} limit; raise the limit or split the roster",
            )
        check_overlap(infos)
        return members

    def _read_manifest(self) -> None:
        if "manifest.csv" not in self._members:
            raise BundleError(
                "the bundle has no manifest.csv at its root; every OneRoster CSV bundle needs "
                "one (propertyName,value rows such as oneroster.version,1.1 and file.users,bulk)",
                file="manifest.csv",
            )
        rows = self._rows("manifest.csv", ("propertyName", "value"), exact=True)
        found = read_manifest(rows, self._members)
        self.manifest, self.version, self.modes = found.properties, found.version, found.modes
        self.stats.notices.extend(found.notices)

    # Reading -----------------------------------------------------------------------------------
    def member_size(self, name: str) -> int:
        """The declared uncompressed size of a data file (`enrollments`), 0 when absent."""
        if self._zip is None:
            self.open()
        info = self._members.get(f"{name}.csv")
        return info.file_size if info is not None else 0

    def records(
        self,
        *,
        only: Collection[str] | None = None,
        skip: Collection[str] = (),
        known: KnownRows | None = None,
    ) -> Iterator[tuple[str, Record | UnchangedRow]]:
        """Yield (collection, record) for every row of every present rostering file.

        Collections come in dependency order (orgs, academicSessions, courses, classes, users,
        enrollments); for 1.2, roles.csv is read first and joined into users.

        Args:
            only: Read just these data files (as `enrollments`), when given.
            skip: Data files not to read (another process reads them).
            known: Rows the portal holds: a bulk file's row found there unchanged is yielded
                as an `UnchangedRow`, not mapped (`domain.unchanged_rows`).

        Raises:
            BundleError: A file is refused: header, encoding, a ragged row, a size limit.
        """
        if self._zip is None:
            self.open()
        roles: Roles | None = None
        wanted = [
            name
            for name in READ_ORDER[self.version]
            if name not in skip and (only is None or name in only)
        ]
        if self.version == "1.2" and "users" in wanted:
            roles = Roles()
        for name in wanted:
            if self.modes.get(name, "absent") == "absent":
                continue
            if name == "roles":
                if roles is None:
                    continue  # roles are joined into users, which are not read here
                for row in self._data_rows(name):
                    roles.add(row)
                continue
            # Only a full snapshot's rows stand for the portal's records, and a 1.2 user is
            # made from roles.csv too.
            sifted = (
                known
                if self.modes.get(name) == "bulk" and not (name == "users" and roles is not None)
                else None
            )
            if name == "users" and roles is None:
                # 1.1: every value is text, so the records come from the cells directly.
                for person in self._people_11(sifted):
                    yield name, person
                continue
            convert = CONVERTERS[name]
            mapper = MAPPERS[name]
            for read in self._data_rows(name, sifted):
                if isinstance(read, UnchangedRow):
                    yield name, read
                    continue
                raw = convert(read)
                if name == "users":
                    if roles is not None:
                        raw["roles"] = roles.of(raw["sourcedId"])
                    else:
                        raw.update(users_11(read))
                yield name, mapper(raw)

    def cells(self, name: str) -> Iterator[list[str]]:
        """The rows of one present data file as plain cells, the spec's columns first in
        `columns_for(self.version, name)` order; nothing when the manifest marks it absent.

        For a reader that maps the cells itself (a big file's enrollments, `sync.enrollment_rows`):
        the header, encoding, size and ragged-row checks are those of `records`.

        Raises:
            BundleError: The file is refused, as `records` would refuse it.
        """
        if self._zip is None:
            self.open()
        if self.modes.get(name, "absent") == "absent":
            return
        count = 0
        for _line, row in self._rows(f"{name}.csv", columns_for(self.version, name), extras=[]):
            count += 1
            yield row
        self.stats.rows[name] = count

    def _people_11(self, known: KnownRows | None = None) -> Iterator[Person | UnchangedRow]:
        """users.csv of a 1.1 bundle as `Person` records (`bundle_people`), or as
        `UnchangedRow`s where `known` holds them."""
        spec = columns_for(self.version, "users")
        extras: list[tuple[int, str]] = []
        rows = self._rows("users.csv", spec, extras=extras)
        count = 0

        def counted() -> Iterator[list[str]]:
            nonlocal count
            for _line, row in rows:
                count += 1
                yield row

        cells = counted()
        first = next(cells, None)  # the header, and so `extras`, is read with the first row
        if first is not None:
            metadata = [
                (i, col.removeprefix("metadata."))
                for i, col in extras
                if col.startswith("metadata.")
            ]
            sift = (
                None
                if known is None
                else known.sifter("users", self.version, (*spec, *(n for _i, n in extras)))
            )
            yield from people_11(spec, metadata, itertools.chain((first,), cells), sift)
        self.stats.rows["users"] = count

    @overload
    def _data_rows(self, name: str) -> Iterator[dict[str, Any]]: ...
    @overload
    def _data_rows(
        self, name: str, known: KnownRows | None
    ) -> Iterator[dict[str, Any] | UnchangedRow]: ...
    def _data_rows(
        self, name: str, known: KnownRows | None = None
    ) -> Iterator[dict[str, Any] | UnchangedRow]:
        """The rows of one data file as {column: cell}, plus `metadata` from metadata.* cells;
        an `UnchangedRow` instead for a row `known` holds unchanged."""
        filename = f"{name}.csv"
        spec = columns_for(self.version, name)
        width = len(spec)
        count = 0
        header_extras: list[tuple[int, str]] = []
        metadata: list[tuple[int, str]] | None = None
        sift = None
        for _line, row in self._rows(filename, spec, extras=header_extras):
            if metadata is None:
                # `_rows` has read the header by the time it yields the first row.
                metadata = [
                    (i, col.removeprefix("metadata."))
                    for i, col in header_extras
                    if col.startswith("metadata.")
                ]
                if known is not None:
                    columns = (*spec, *(n for _i, n in header_extras))
                    sift = known.sifter(name, self.version, columns)
            if sift is not None and (unchanged := sift(row)) is not None:
                count += 1
                yield unchanged
                continue
            cells: dict[str, Any] = dict(zip(spec, row[:width], strict=True))
            meta = {key: row[i] for i, key in metadata if row[i] != ""}
            if meta:
                cells["metadata"] = meta
            count += 1
            yield cells
        self.stats.rows[name] = count

    def _rows(
        self,
        filename: str,
        spec: tuple[str, ...],
        *,
        exact: bool = False,
        extras: list[tuple[int, str]] | None = None,
    ) -> Iterator[tuple[int, list[str]]]:
        """Stream one member's rows after checking its header; `extras` receives the
        (index, name) of columns after the spec ones before the first row is yielded."""
        assert self._zip is not None
        info = self._members[filename]
        with open_member(self._zip, info) as raw:
            lines = Lines(raw, info, self.limits, self._count)
            reader = csv.reader(lines, strict=True)
            try:
                header = next(reader, None)
                lines.row_done()
                if header is None:
                    raise BundleError(
                        f"{filename} is empty; it needs at least its header row ({','.join(spec)})",
                        file=filename,
                        line=1,
                    )
                self.stats.encodings[filename] = lines.encoding
                found_extras = _check_header(filename, header, spec, exact=exact)
                if extras is not None:
                    extras.extend(found_extras)
                ignored = tuple(n for _i, n in found_extras if not n.startswith("metadata."))
                if ignored:
                    self.stats.ignored_columns[filename] = ignored
                width = len(header)
                for row in reader:
                    lines.row_done()
                    if not row:
                        continue  # a blank line carries no record
                    if len(row) != width:
                        line = reader.line_num
                        raise BundleError(
                            f"{_where(filename, line)}: {len(row)} cells, but the header has "
                            f"{width} columns; every row needs one cell per column (quote cells "
                            'that contain commas, e.g. "09,10")',
                            file=filename,
                            line=line,
                        )
                    yield reader.line_num, row
            except csv.Error as exc:
                line = reader.line_num
                raise BundleError(
                    f"{_where(filename, line)}: malformed CSV ({exc}); check the quoting "
                    'around that line (a quote inside a cell is written twice: "")',
                    file=filename,
                    line=line,
                ) from None

    def _count(self, n: int) -> None:
        self._read_total += n
        self.stats.bytes_read = self._read_total
        if self._read_total > self.limits.max_total_bytes:
            raise BundleError(
                f"the bundle's files inflate past the {_size(self.limits.max_total_bytes)} "
                "total limit while being read; refused"
            )


def _check_header(
    filename: str, header: list[str], spec: tuple[str, ...], *, exact: bool
) -> list[tuple[int, str]]:
    """Refuse a header that does not start with the spec columns in order; return the rest."""
    found = [h.strip() for h in header]
    if found[: len(spec)] != list(spec) or (exact and len(found) != len(spec)):
        at = next(
            (i for i, col in enumerate(spec) if i >= len(found) or found[i] != col),
            len(spec),
        )
        expected_col = spec[at] if at < len(spec) else "(nothing more)"
        found_col = found[at] if at < len(found) else "(nothing)"
        raise BundleError(
            f"{_where(filename, 1, at + 1)}: expected column {expected_col!r} but found "
            f"{found_col!r}. The header must begin with exactly these columns, in this order "
            f"(names are case-sensitive): {','.join(spec)}; found: {','.join(found)[:600]}",
            file=filename,
            line=1,
            column=at + 1,
        )
    seen: set[str] = set()
    for i, col in enumerate(found):
        if col in seen:
            raise BundleError(
                f"{_where(filename, 1, i + 1)}: column {col!r} appears twice; keep one",
                file=filename,
                line=1,
                column=i + 1,
            )
        seen.add(col)
    return [(i, found[i]) for i in range(len(spec), len(found))]
