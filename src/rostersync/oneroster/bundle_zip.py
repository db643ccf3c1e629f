"""Checks on a bundle's zip structure: before its central directory is parsed, and after.

`check_directory` reads only the zip's end record (at most 64 KiB from the end, and the ZIP64
record it points to) and refuses a directory with more entries than allowed, or one too large
for that many entries, before `zipfile` builds an object per entry: a zip of 400,000 empty
entries is refused at the cost of a few kilobytes. `zipfile` reads the directory by its size,
not by the count the end record states, so both are bounded.
"""

from __future__ import annotations

import itertools
import re
import struct
import zipfile
from pathlib import Path
from typing import IO

from rostersync.oneroster.bundle_limits import BundleError

__all__ = ["check_directory", "check_overlap", "check_path", "file_size", "open_member"]

_DRIVE = re.compile(r"^[A-Za-z]:")
# A directory entry is 46 bytes and its name, extra field and comment: a OneRoster bundle's
# names are short, and zip tools add a few dozen bytes of extra fields. 4 KiB each is generous.
DIRECTORY_BYTES_PER_ENTRY = 4096
_END = struct.Struct("<4s4H2LH")  # end of central directory record (APPNOTE 4.3.16)
_END_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")  # ZIP64 end of central directory locator (4.3.15)
_LOCATOR_SIG = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")  # ZIP64 end of central directory record (4.3.14)
_END64_SIG = b"PK\x06\x06"


def check_directory(stream: IO[bytes], *, max_members: int) -> None:
    """Refuse a zip whose central directory holds more than `max_members` entries, or is
    larger than so many entries can be, before the directory is parsed.

    A file with no end record is left for `zipfile` to refuse as not a zip.

    Raises:
        BundleError: Too many entries, or a directory too large for the entries allowed.
    """
    stream.seek(0, 2)
    total = stream.tell()
    start = max(0, total - _END.size - 0xFFFF)
    stream.seek(start)
    tail = stream.read(total - start)
    at = tail.rfind(_END_SIG)
    if at < 0 or len(tail) - at < _END.size:
        return
    _sig, _disk, _cd_disk, _here, entries, directory, _offset, _comment = _END.unpack_from(tail, at)
    if at >= _LOCATOR.size and tail[at - _LOCATOR.size : at].startswith(_LOCATOR_SIG):
        _lsig, _ldisk, end64_at, _disks = _LOCATOR.unpack_from(tail, at - _LOCATOR.size)
        stream.seek(end64_at)
        record = stream.read(_END64.size)
        if len(record) == _END64.size and record.startswith(_END64_SIG):
            fields = _END64.unpack(record)
            entries, directory = max(entries, fields[7]), max(directory, fields[8])
    if entries > max_members:
        raise BundleError(
            f"the bundle has {entries} entries, more than the {max_members} allowed; a "
            "OneRoster bundle holds manifest.csv and at most 21 CSV files",
        )
    if directory > max_members * DIRECTORY_BYTES_PER_ENTRY:
        raise BundleError(
            f"the bundle's list of entries is {directory} bytes, more than "
            f"{max_members} entries can take; it is damaged or built to exhaust memory. "
            "Zip only the CSV files and manifest.csv, at the root",
        )


def file_size(path: str | Path) -> int:
    """The size of the bundle on disk.

    Raises:
        BundleError: It cannot be read.
    """
    try:
        return Path(path).stat().st_size
    except OSError as exc:
        raise BundleError(
            f"cannot read the bundle {Path(path).name}: {exc.strerror}; check the path",
            file=Path(path).name,
        ) from None


def check_path(name: str) -> None:
    """Refuse an entry name that points outside the bundle, or that is empty."""
    if not name:
        # `zipfile` cannot even ask whether it is a folder (`ZipInfo.is_dir` indexes name[-1]).
        raise BundleError(
            "the bundle has an entry with no name; refused. Zip only the CSV files and "
            "manifest.csv, at the root",
            file="(an entry with no name)",
        )
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


def check_overlap(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse entries that share compressed data."""
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


def open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """Open one member for reading, refusing a damaged local header as the reads refuse damage.

    The central directory can be intact while a member's own header is not (a flipped byte, a
    cut-and-joined file); `zipfile` then raises on opening, before any read.

    Raises:
        BundleError: The member cannot be opened; names the file.
    """
    try:
        return zf.open(info)
    # ValueError: a directory whose offsets do not add up points before the file's start;
    # NotImplementedError: a local header claiming strong encryption or patch data.
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise BundleError(
            f"{info.filename} is damaged inside the zip ({exc}); export the bundle again",
            file=info.filename,
        ) from None
