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

import codecs
import csv
import io
import itertools
import re
import stat
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from typing import IO, Any

from rostersync.domain.records import Record
from rostersync.errors import FatalSourceError
from rostersync.oneroster.bundle_schema import (
    FILES,
    MANIFEST_VERSION,
    READ_ORDER,
    VERSIONS,
    columns_for,
)
from rostersync.oneroster.mapping import MAPPERS

__all__ = ["MODES", "Bundle", "BundleError", "BundleLimits", "BundleStats"]

MB = 1024 * 1024
MODES = ("absent", "bulk", "delta")
_CHUNK = 64 * 1024
_ALLOWED_COMPRESSION = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_ARCHIVES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".jar")
# Operating-system litter that zip tools add; skipped with a notice rather than refused.
_JUNK_DIRS = ("__MACOSX/",)
_JUNK_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_DRIVE = re.compile(r"^[A-Za-z]:")
_USER_ID = re.compile(r"\{([^{}]*)\}")
_EXCEL_FIX = 'in Excel use "Save As → CSV UTF-8 (Comma delimited)"'


class BundleError(FatalSourceError):
    """A bundle that cannot be used as it is. `file`, `line` and `column` locate the problem."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleLimits:
    """What a bundle may be. The defaults fit a million-student district with room to spare.

    Attributes:
        max_compressed_bytes: Size of the zip itself.
        max_member_bytes: Uncompressed size of any one member.
        max_total_bytes: Uncompressed size of all members together.
        max_ratio: Uncompressed/compressed size of one member above which it is a zip bomb.
        ratio_floor_bytes: Members smaller than this are not judged by their ratio (a tiny,
            very repetitive file compresses well and harms no one).
        max_members: Entries in the zip.
        encoding: "auto", "utf-8" or "cp1252"; see the module docstring for the rule.
    """

    max_compressed_bytes: int = 200 * MB
    max_member_bytes: int = 1024 * MB
    max_total_bytes: int = 2048 * MB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MB
    max_members: int = 50
    encoding: str = "auto"


@dataclass(slots=True)
class BundleStats:
    """What reading a bundle found: rows per file, skipped columns, encodings, notices."""

    rows: dict[str, int] = field(default_factory=dict)
    # Extension columns (`ext_*` and others beyond the spec) seen and not used, per file.
    ignored_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    bytes_read: int = 0


def _where(file: str, line: int | None = None, column: int | None = None) -> str:
    place = file
    if line is not None:
        place += f" line {line}"
    if column is not None:
        place += f", column {column}"
    return place


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"


class Bundle:
    """An opened, vetted OneRoster CSV bundle whose records are streamed on demand.

    Use as a context manager; `open()` vets the zip and reads the manifest, `records()` streams.

        with Bundle("bundle.zip") as bundle:
            for collection, record in bundle.records():
                ...
    """

    def __init__(self, source: str | Path | bytes, *, limits: BundleLimits | None = None) -> None:
        self._source = source
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
        name = "the bundle" if isinstance(self._source, bytes) else Path(self._source).name
        size = len(self._source) if isinstance(self._source, bytes) else _file_size(self._source)
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
            self._zip = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
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
            _check_path(name)
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
            if info.flag_bits & 0x1:
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
        _check_overlap(infos)
        return members

    def _read_manifest(self) -> None:
        if "manifest.csv" not in self._members:
            raise BundleError(
                "the bundle has no manifest.csv at its root; every OneRoster CSV bundle needs "
                "one (propertyName,value rows such as oneroster.version,1.1 and file.users,bulk)",
                file="manifest.csv",
            )
        props: dict[str, str] = {}
        rows = self._rows("manifest.csv", ("propertyName", "value"), exact=True)
        for line, row in rows:
            key, value = row[0].strip(), row[1].strip()
            if key in props:
                raise BundleError(
                    f"{_where('manifest.csv', line)}: {key} is listed twice; keep one",
                    file="manifest.csv",
                    line=line,
                )
            props[key] = value
        self.manifest = props
        manifest_version = props.get("manifest.version")
        if manifest_version != MANIFEST_VERSION:
            raise BundleError(
                f"manifest.csv: unknown manifest.version {manifest_version!r}; expected "
                f"{MANIFEST_VERSION!r} (a OneRoster 1.1 or 1.2 bundle)",
                file="manifest.csv",
            )
        version = props.get("oneroster.version", "")
        if version not in VERSIONS:
            raise BundleError(
                f"manifest.csv: oneroster.version is {version!r}; rostersync reads OneRoster "
                f"{' and '.join(VERSIONS)} bundles: set it to the version the files follow",
                file="manifest.csv",
            )
        self.version = version
        for key, value in props.items():
            if key.startswith("file.") and value not in MODES:
                raise BundleError(
                    f"manifest.csv: {key} is {value!r}; it must be one of {', '.join(MODES)}",
                    file="manifest.csv",
                )
        for name in sorted({*FILES[version], *(k[5:] for k in props if k.startswith("file."))}):
            mode = props.get(f"file.{name}", "absent")
            present = f"{name}.csv" in self._members
            if mode != "absent" and not present:
                raise BundleError(
                    f"manifest.csv declares file.{name} as {mode}, but {name}.csv is not in "
                    f"the zip (names are case-sensitive); add the file or set file.{name} to "
                    "absent",
                    file=f"{name}.csv",
                )
            if name in READ_ORDER[version]:
                if present and mode == "absent":
                    raise BundleError(
                        f"{name}.csv is in the zip but manifest.csv declares file.{name} as "
                        f"absent (or does not list it); set file.{name} to bulk or delta",
                        file=f"{name}.csv",
                    )
                self.modes[name] = mode
        known = {f"{n}.csv" for n in FILES[version]} | {"manifest.csv"}
        for member in self._members:
            if member not in known:
                self.stats.notices.append(f"ignored {member!r}: not a OneRoster {version} file")

    # Reading -----------------------------------------------------------------------------------
    def member_size(self, name: str) -> int:
        """The declared uncompressed size of a data file (`enrollments`), 0 when absent."""
        if self._zip is None:
            self.open()
        info = self._members.get(f"{name}.csv")
        return info.file_size if info is not None else 0

    def records(
        self, *, only: Collection[str] | None = None, skip: Collection[str] = ()
    ) -> Iterator[tuple[str, Record]]:
        """Yield (collection, record) for every row of every present rostering file.

        Collections come in dependency order (orgs, academicSessions, courses, classes, users,
        enrollments); for 1.2, roles.csv is read first and joined into users.

        Args:
            only: Read just these data files (as `enrollments`), when given.
            skip: Data files not to read (another process reads them).

        Raises:
            BundleError: A file is refused: header, encoding, a ragged row, a size limit.
        """
        if self._zip is None:
            self.open()
        roles: _Roles | None = None
        wanted = [
            name
            for name in READ_ORDER[self.version]
            if name not in skip and (only is None or name in only)
        ]
        if self.version == "1.2" and "users" in wanted:
            roles = _Roles()
        for name in wanted:
            if self.modes.get(name, "absent") == "absent":
                continue
            if name == "roles":
                if roles is None:
                    continue  # roles are joined into users, which are not read here
                for row in self._data_rows(name):
                    roles.add(row)
                continue
            convert = _CONVERTERS[name]
            mapper = MAPPERS[name]
            for row in self._data_rows(name):
                raw = convert(row)
                if name == "users":
                    if roles is not None:
                        raw["roles"] = roles.of(raw["sourcedId"])
                    else:
                        raw.update(_users_11(row))
                yield name, mapper(raw)

    def _data_rows(self, name: str) -> Iterator[dict[str, Any]]:
        """The rows of one data file as {column: cell}, plus `metadata` from metadata.* cells."""
        filename = f"{name}.csv"
        spec = columns_for(self.version, name)
        width = len(spec)
        count = 0
        header_extras: list[tuple[int, str]] = []
        metadata: list[tuple[int, str]] | None = None
        for _line, row in self._rows(filename, spec, extras=header_extras):
            if metadata is None:
                # `_rows` has read the header by the time it yields the first row.
                metadata = [
                    (i, col.removeprefix("metadata."))
                    for i, col in header_extras
                    if col.startswith("metadata.")
                ]
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
        with self._zip.open(info) as raw:
            lines = _Lines(raw, info, self)
            reader = csv.reader(lines, strict=True)
            try:
                header = next(reader, None)
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


def _file_size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError as exc:
        raise BundleError(
            f"cannot read the bundle {Path(path).name}: {exc.strerror}; check the path",
            file=Path(path).name,
        ) from None


def _check_path(name: str) -> None:
    parts = name.split("/")
    if (
        name.startswith("/")
        or "\\" in name
        or _DRIVE.match(name)
        or ".." in parts
        or any(ord(ch) < 32 for ch in name)
    ):
        raise BundleError(
            f"the bundle has an entry named {name!r}, which points outside the bundle "
            "(absolute path, '..', backslash or drive letter); refused. Zip only the CSV files "
            "and manifest.csv, at the root",
            file=name,
        )


def _check_overlap(infos: list[zipfile.ZipInfo]) -> None:
    # Overlapping entries let many names share one compressed stream (the "quoted overlap"
    # bomb). Python 3.11.7's zipfile does not notice (gh-109858), so check the offsets here.
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for first, second in itertools.pairwise(ordered):
        name_bytes = len(first.orig_filename.encode("utf-8", errors="replace"))
        # 30 bytes of fixed local header: a conservative lower bound on where the data ends.
        if first.header_offset + 30 + name_bytes + first.compress_size > second.header_offset:
            raise BundleError(
                f"{first.filename} and {second.filename} overlap inside the zip, a zip bomb "
                "trick; refused. Export the bundle again",
                file=second.filename,
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


class _Lines:
    """One member's text, line by line for `csv.reader`, decoded by the encoding rule while its
    bytes are counted against the limits."""

    def __init__(self, raw: IO[bytes], info: zipfile.ZipInfo, bundle: Bundle) -> None:
        self._raw = raw
        self._info = info
        self._bundle = bundle
        self._limits = bundle.limits
        self._file = info.filename
        self.encoding = "utf-8"
        self._read = 0

    def _chunk(self) -> bytes:
        try:
            chunk = self._raw.read(_CHUNK)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise BundleError(
                f"{self._file} is damaged inside the zip ({exc}); export the bundle again",
                file=self._file,
            ) from None
        n = len(chunk)
        self._read += n
        limits, info = self._limits, self._info
        # Headers can lie about sizes: enforce the limits on what actually comes out.
        if self._read > info.file_size or self._read > limits.max_member_bytes:
            raise BundleError(
                f"{self._file} inflates past its declared size or the "
                f"{_size(limits.max_member_bytes)} limit while being read; refused",
                file=self._file,
            )
        if self._read > limits.ratio_floor_bytes and self._read > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise BundleError(
                f"{self._file} expands past {limits.max_ratio:g}:1 while being read, the "
                "signature of a zip bomb; refused",
                file=self._file,
            )
        self._bundle._count(n)
        return chunk

    def _refuse(self, data: bytes, pos: int, offset: int, newlines: int, encoding: str) -> None:
        line = newlines + data[:pos].count(b"\n") + 1
        byte = data[pos] if pos < len(data) else 0
        label = "UTF-8" if encoding == "utf-8" else "Windows-1252"
        raise BundleError(
            f"{_where(self._file, line)}: byte 0x{byte:02X} at offset {offset + pos} is not "
            f"valid {label}; save the file as UTF-8 ({_EXCEL_FIX})",
            file=self._file,
            line=line,
        )

    def __iter__(self) -> Iterator[str]:
        setting = self._limits.encoding
        chunk = self._chunk()
        offset = 0  # bytes of the file before the current chunk
        declared_utf8 = setting == "utf-8"
        if chunk.startswith(codecs.BOM_UTF8):
            chunk, offset, declared_utf8, encoding = chunk[3:], 3, True, "utf-8"
        elif chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise BundleError(
                f'{self._file} is UTF-16 (Excel\'s "Unicode Text"); {_EXCEL_FIX} and bundle '
                "it again",
                file=self._file,
                line=1,
            )
        else:
            encoding = "cp1252" if setting == "cp1252" else "utf-8"
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        newlines = 0
        seen_non_ascii = False
        carry = ""
        while True:
            final = not chunk
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line = newlines + chunk[:nul].count(b"\n") + 1
                raise BundleError(
                    f"{_where(self._file, line)}: contains a NUL byte, which a CSV file never "
                    f"does; the file is binary or damaged ({_EXCEL_FIX})",
                    file=self._file,
                    line=line,
                )
            pending: bytes = decoder.getstate()[0] if encoding == "utf-8" else b""
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                good = data[: exc.start]
                start = offset - len(pending)
                # ASCII reads the same in both encodings, so nothing already read changes.
                if (
                    setting != "auto"
                    or declared_utf8
                    or encoding != "utf-8"
                    or seen_non_ascii
                    or not good.isascii()
                ):
                    self._refuse(data, exc.start, start, newlines, encoding)
                encoding = "cp1252"
                decoder = codecs.getincrementaldecoder(encoding)("strict")
                try:
                    text = good.decode("ascii") + decoder.decode(data[exc.start :], final)
                except UnicodeDecodeError as exc2:
                    self._refuse(data, exc.start + exc2.start, start, newlines, encoding)
            self.encoding = encoding
            if not seen_non_ascii and not text.isascii():
                seen_non_ascii = True
            newlines += chunk.count(b"\n")
            offset += len(chunk)
            pieces = (carry + text).split("\n")
            carry = pieces.pop()
            for piece in pieces:
                yield piece + "\n"
            if final:
                break
            chunk = self._chunk()
        if carry:
            yield carry


class _Roles:
    """1.2 roles.csv, compactly: userSourcedId → indices into a table of distinct
    (roleType, role, orgSourcedId) triples. Most users hold one role, stored as a bare int."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str, str], int] = {}
        self._triples: list[tuple[str, str, str]] = []
        self._by_user: dict[str, int | tuple[int, ...]] = {}

    def add(self, row: dict[str, Any]) -> None:
        if row["status"].strip().lower() in ("tobedeleted", "inactive"):
            return  # a removed role no longer describes the user
        triple = (row["roleType"], row["role"], row["orgSourcedId"])
        index = self._ids.get(triple)
        if index is None:
            index = self._ids[triple] = len(self._triples)
            self._triples.append(triple)
        user = row["userSourcedId"]
        held = self._by_user.get(user)
        if held is None:
            self._by_user[user] = index
        elif isinstance(held, int):
            self._by_user[user] = (held, index)
        else:
            self._by_user[user] = (*held, index)

    def of(self, user: str) -> list[dict[str, Any]]:
        held = self._by_user.get(user)
        if held is None:
            return []
        indices = (held,) if isinstance(held, int) else held
        return [
            {
                "roleType": role_type,
                "role": role,
                "org": {"sourcedId": org} if org else None,
            }
            for role_type, role, org in (self._triples[i] for i in indices)
        ]


# Rows → the OneRoster JSON shape `MAPPERS` read. GUIDRefs carry only a sourcedId: a bundle has
# no hrefs, and the mapping never reads them.
def _ref(cell: str) -> dict[str, str] | None:
    cell = cell.strip()
    return {"sourcedId": cell} if cell else None


def _list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(",") if part.strip()]


def _refs(cell: str) -> list[dict[str, str]]:
    return [{"sourcedId": sid} for sid in _list(cell)]


def _user_ids(cell: str) -> list[dict[str, str]]:
    # `{LDAP:12},{Fed:23}`; the braces make a comma inside an identifier safe.
    items = _USER_ID.findall(cell) if "{" in cell else _list(cell)
    pairs = (item.partition(":") for item in items)
    return [{"type": t.strip(), "identifier": ident.strip()} for t, _sep, ident in pairs]


def _common(c: dict[str, Any]) -> dict[str, Any]:
    raw = {"sourcedId": c["sourcedId"], "status": c["status"]}
    if c["dateLastModified"]:
        raw["dateLastModified"] = c["dateLastModified"]
    if "metadata" in c:
        raw["metadata"] = c["metadata"]
    return raw


def _org(c: dict[str, Any]) -> dict[str, Any]:
    return {
        **_common(c),
        "name": c["name"],
        "type": c["type"],
        "identifier": c["identifier"],
        "parent": _ref(c["parentSourcedId"]),
    }


def _session(c: dict[str, Any]) -> dict[str, Any]:
    return {
        **_common(c),
        "title": c["title"],
        "type": c["type"],
        "startDate": c["startDate"],
        "endDate": c["endDate"],
        "parent": _ref(c["parentSourcedId"]),
        "schoolYear": c["schoolYear"],
    }


def _course(c: dict[str, Any]) -> dict[str, Any]:
    return {
        **_common(c),
        "schoolYear": _ref(c["schoolYearSourcedId"]),
        "title": c["title"],
        "courseCode": c["courseCode"],
        "grades": _list(c["grades"]),
        "org": _ref(c["orgSourcedId"]),
        "subjects": _list(c["subjects"]),
        "subjectCodes": _list(c["subjectCodes"]),
    }


def _class(c: dict[str, Any]) -> dict[str, Any]:
    return {
        **_common(c),
        "title": c["title"],
        "grades": _list(c["grades"]),
        "course": _ref(c["courseSourcedId"]),
        "classCode": c["classCode"],
        "classType": c["classType"],
        "location": c["location"],
        "school": _ref(c["schoolSourcedId"]),
        "terms": _refs(c["termSourcedIds"]),
        "subjects": _list(c["subjects"]),
        "subjectCodes": _list(c["subjectCodes"]),
        "periods": _list(c["periods"]),
    }


def _user(c: dict[str, Any]) -> dict[str, Any]:
    raw = {
        **_common(c),
        "enabledUser": c["enabledUser"],
        "username": c["username"],
        "userIds": _user_ids(c["userIds"]),
        "givenName": c["givenName"],
        "familyName": c["familyName"],
        "middleName": c["middleName"],
        "identifier": c["identifier"],
        "email": c["email"],
        "sms": c["sms"],
        "phone": c["phone"],
        "agents": _refs(c["agentSourcedIds"]),
        "grades": _list(c["grades"]),
        "password": c["password"],
    }
    if "userMasterIdentifier" in c:
        # 1.2: the CSV says preferredGiven/FamilyName where the JSON says preferredFirst/LastName.
        raw.update(
            userMasterIdentifier=c["userMasterIdentifier"],
            preferredFirstName=c["preferredGivenName"],
            preferredMiddleName=c["preferredMiddleName"],
            preferredLastName=c["preferredFamilyName"],
            primaryOrg=_ref(c["primaryOrgSourcedId"]),
            pronouns=c["pronouns"],
        )
    return raw


def _users_11(c: dict[str, Any]) -> dict[str, Any]:
    return {"orgs": _refs(c["orgSourcedIds"]), "role": c["role"]}


def _enrollment(c: dict[str, Any]) -> dict[str, Any]:
    # A school's id repeats in all its rows: one interned string. Class and user ids are not
    # interned: enrollments are spooled to disk a chunk at a time (`sync.enrollments`), and
    # interning every class and user id of a million-student district would leave the
    # interpreter's table of interned strings sized for over a million entries for good.
    return {
        **_common(c),
        "class": _ref(c["classSourcedId"]),
        "school": _ref(intern(c["schoolSourcedId"])),
        "user": _ref(c["userSourcedId"]),
        "role": intern(c["role"]),
        "primary": c["primary"],
        "beginDate": c["beginDate"],
        "endDate": c["endDate"],
    }


_CONVERTERS = {
    "orgs": _org,
    "academicSessions": _session,
    "courses": _course,
    "classes": _class,
    "users": _user,
    "enrollments": _enrollment,
}
