"""A bundle member's text, line by line: decoded by the encoding rule, counted, bounded.

The encoding rule is in `rostersync.oneroster.bundle`. Sizes are counted on what actually comes
out of the zip (headers can lie), and a row's length is bounded before it is parsed.
"""

from __future__ import annotations

import codecs
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO

from rostersync.oneroster.bundle_limits import EXCEL_FIX, BundleError, BundleLimits, size, where

__all__ = ["Lines"]

_CHUNK = 64 * 1024


class Lines:
    """One member's text, line by line for `csv.reader`, decoded by the encoding rule while its
    bytes are counted against the limits (`count` adds them to the bundle's total).

    A row may be at most `max_line_chars` long: a line without its end is refused as soon as it
    passes the limit, and so is a row whose quoted cells span lines (the reader calls
    `row_done` after every row), so memory stays flat whatever the file holds.
    """

    def __init__(
        self,
        raw: IO[bytes],
        info: zipfile.ZipInfo,
        limits: BundleLimits,
        count: Callable[[int], None],
    ) -> None:
        self._raw = raw
        self._info = info
        self._count = count
        self._limits = limits
        self._file = info.filename
        self.encoding = "utf-8"
        self._read = 0
        self._yielded = 0  # lines handed to the reader
        self._row_start = 1  # the line the reader's current row began on
        self._row_chars = 0

    def row_done(self) -> None:
        """The reader finished a row: the next one starts on the next line."""
        self._row_start = self._yielded + 1
        self._row_chars = 0

    def _too_long(self, line: int) -> BundleError:
        limit = self._limits.max_line_chars
        return BundleError(
            f"{where(self._file, line)}: the row is longer than {limit:,} characters, the limit "
            "for one row; a roster row is far shorter, so the file is damaged or is not a "
            "OneRoster CSV (check that each row ends with a line break, and that quotes are "
            "closed)",
            file=self._file,
            line=line,
        )

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
                f"{size(limits.max_member_bytes)} limit while being read; refused",
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
        self._count(n)
        return chunk

    def _refuse(self, data: bytes, pos: int, offset: int, newlines: int, encoding: str) -> None:
        line = newlines + data[:pos].count(b"\n") + 1
        byte = data[pos] if pos < len(data) else 0
        label = "UTF-8" if encoding == "utf-8" else "Windows-1252"
        raise BundleError(
            f"{where(self._file, line)}: byte 0x{byte:02X} at offset {offset + pos} is not "
            f"valid {label}; save the file as UTF-8 ({EXCEL_FIX})",
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
                f'{self._file} is UTF-16 (Excel\'s "Unicode Text"); {EXCEL_FIX} and bundle '
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
                    f"{where(self._file, line)}: contains a NUL byte, which a CSV file never "
                    f"does; the file is binary or damaged ({EXCEL_FIX})",
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
            if len(carry) > self._limits.max_line_chars:
                raise self._too_long(newlines + 1)
            for piece in pieces:
                self._yielded += 1
                self._row_chars += len(piece) + 1
                if self._row_chars > self._limits.max_line_chars:
                    raise self._too_long(self._row_start)
                yield piece + "\n"
            if final:
                break
            chunk = self._chunk()
        if carry:
            self._yielded += 1
            if self._row_chars + len(carry) > self._limits.max_line_chars:
                raise self._too_long(self._row_start)
            yield carry
