"""What a OneRoster CSV bundle may be, and the one error a bundle is refused with.

Every refusal is a `BundleError` naming the file and, where it applies, the line and column, and
saying how to fix the bundle (see `rostersync.oneroster.bundle`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rostersync.errors import FatalSourceError

__all__ = ["EXCEL_FIX", "MB", "BundleError", "BundleLimits", "size", "where"]

MB = 1024 * 1024
EXCEL_FIX = 'in Excel use "Save As → CSV UTF-8 (Comma delimited)"'


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
        max_members: Entries in the zip, checked against its central directory before the
            directory is parsed (a zip of 400,000 empty entries costs no memory to refuse).
        max_line_chars: Characters in one row (a line, or the lines a quoted cell spans);
            checked while reading, so one endless line is refused at the limit.
        encoding: "auto", "utf-8" or "cp1252"; the rule is in `rostersync.oneroster.bundle`.
    """

    max_compressed_bytes: int = 200 * MB
    max_member_bytes: int = 1024 * MB
    max_total_bytes: int = 2048 * MB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MB
    max_members: int = 50
    max_line_chars: int = 1 * MB
    encoding: str = "auto"


def where(file: str, line: int | None = None, column: int | None = None) -> str:
    """`file`, `file line 3` or `file line 3, column 2`: where a refusal points."""
    place = file
    if line is not None:
        place += f" line {line}"
    if column is not None:
        place += f", column {column}"
    return place


def size(n: int) -> str:
    """A byte count for a message: `3.5 MB` or `512 bytes`."""
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"
