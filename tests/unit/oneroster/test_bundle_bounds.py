"""Reading a bundle is bounded before parsing: entry count, directory size and row length.

Memory is measured with `tracemalloc` around opening the bundle, against a baseline measured in
the same test on an ordinary bundle: a hostile zip must cost no more than a real one.
"""

from __future__ import annotations

import base64
import contextlib
import os
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.unit.oneroster.bundle_helpers import (
    USERS_11,
    bundle_bytes,
    make_zip,
    manifest,
    users_only,
)

from rostersync.domain.records import Person
from rostersync.oneroster.bundle import Bundle, BundleError, BundleLimits

ROW = "stu-1,,,true,org-101,student,jmunoz,,Ana,Diaz,,S1,j@x.example,,,,09,"


def many_entries(count: int, *, stated: int | None = None) -> bytes:
    """A zip of `count` empty stored entries, built directly (zipfile is slow at this size).

    `stated` overrides the entry count its end record gives (a zip that lies about it).
    """
    local, central = bytearray(), bytearray()
    crc = zlib.crc32(b"")
    for i in range(count):
        name = f"f{i}.csv".encode()
        offset = len(local)
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, 0, 0, len(name), 0)
        local += name
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            0,
            0,
            0,
            0,
            crc,
            0,
            0,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += name
    entries = count if stated is None else stated
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, len(central), len(local), 0
    )
    return bytes(local + central + end)


def peak_bytes(action: Callable[[], object]) -> int:
    """The peak of memory allocated while `action` runs (its exception is swallowed)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with contextlib.suppress(BundleError):
            action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def open_only(path: Path, **limits: object) -> Callable[[], None]:
    def action() -> None:
        with Bundle(path, limits=BundleLimits(**limits)):  # type: ignore[arg-type]
            pass

    return action


def refusal(source: bytes | Path, **limits: object) -> BundleError:
    with (
        pytest.raises(BundleError) as caught,
        Bundle(source, limits=BundleLimits(**limits)) as opened,  # type: ignore[arg-type]
    ):
        for _record in opened.records():
            pass
    return caught.value


class TestEntriesAreCountedBeforeTheDirectoryIsParsed:
    def test_a_zip_of_many_entries_costs_no_more_memory_than_a_real_bundle(
        self, tmp_path: Path
    ) -> None:
        real = tmp_path / "real.zip"
        real.write_bytes(bundle_bytes())
        hostile = tmp_path / "hostile.zip"
        hostile.write_bytes(many_entries(60_000))
        baseline = peak_bytes(open_only(real))
        peak = peak_bytes(open_only(hostile))
        # Parsing 60,000 directory entries allocates tens of megabytes; refusing them, nothing.
        assert peak < baseline + 256 * 1024, (peak, baseline)
        error = refusal(hostile)
        assert "60000 entries, more than the 50 allowed" in str(error)

    def test_a_zip_that_understates_its_entries_is_refused_by_its_directory_size(
        self, tmp_path: Path
    ) -> None:
        hostile = tmp_path / "liar.zip"
        hostile.write_bytes(many_entries(20_000, stated=3))
        error = refusal(hostile)
        assert "list of entries" in str(error)
        assert peak_bytes(open_only(hostile)) < 256 * 1024

    def test_the_count_is_a_setting(self) -> None:
        error = refusal(bundle_bytes(), max_members=3)
        assert "more than the 3 allowed" in str(error)

    def test_a_bundle_in_memory_is_checked_the_same_way(self) -> None:
        assert "entries" in str(refusal(many_entries(100)))


def noise(n: int) -> str:
    """`n` characters of incompressible letters (so no zip-bomb check fires first)."""
    return base64.b32encode(os.urandom(n * 5 // 8 + 5)).decode()[:n]


class TestRowsAreBoundedBeforeTheyAreParsed:
    def test_an_endless_line_is_refused_at_the_limit_with_flat_memory(self, tmp_path: Path) -> None:
        real = tmp_path / "real.zip"
        real.write_bytes(users_only([ROW] * 50))
        long_line = tmp_path / "long.zip"
        body = f"{USERS_11}\r\n{ROW}\r\n{noise(24 * 2**20)}".encode()
        long_line.write_bytes(make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": body}))

        def read(path: Path) -> Callable[[], None]:
            def action() -> None:
                with Bundle(path) as opened:
                    for _record in opened.records():
                        pass

            return action

        baseline = peak_bytes(read(real))
        started = time.monotonic()
        peak = peak_bytes(read(long_line))
        elapsed = time.monotonic() - started
        # The default limit (1 MiB of characters) is what may be held: a few copies of it.
        assert peak < baseline + 8 * 2**20, (peak, baseline)
        error = refusal(long_line)
        assert (error.file, error.line) == ("users.csv", 3)
        assert "longer than 1,048,576 characters" in str(error)
        assert elapsed < 5, elapsed  # not a timing test: only a guard against quadratic reading

    def test_a_row_spread_over_lines_by_quotes_is_bounded_too(self) -> None:
        # Each physical line is short; the quoted cell makes them one row.
        cell = '"' + "\n".join(["x" * 50] * 100) + '"'
        body = f"{USERS_11}\r\n{ROW}\r\n{cell}\r\n".encode()
        bundle = make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": body})
        error = refusal(bundle, max_line_chars=2000)
        assert (error.file, error.line) == ("users.csv", 3)
        assert "longer than 2,000 characters" in str(error)

    def test_rows_within_the_limit_read_as_before(self) -> None:
        bundle = users_only([ROW])
        with Bundle(bundle, limits=BundleLimits(max_line_chars=len(USERS_11) + 2)) as opened:
            (person,) = [r for _c, r in opened.records()]
        assert isinstance(person, Person)


class TestManifestRefusalsNameTheLine:
    @pytest.mark.parametrize(
        ("rows", "line", "expected"),
        [
            ("manifest.version,2.0\r\noneroster.version,1.1", 2, "unknown manifest.version"),
            ("manifest.version,1.0\r\noneroster.version,1.0", 3, "oneroster.version is '1.0'"),
            ("manifest.version,1.0\r\noneroster.version,1.2\r\nfile.users,full", 4, "'full'"),
            (
                "manifest.version,1.0\r\noneroster.version,1.2\r\nfile.orgs,bulk\r\nfile.orgs,bulk",
                5,
                "listed twice (first on line 4)",
            ),
        ],
    )
    def test_bad_settings_are_refused_with_their_line(
        self, rows: str, line: int, expected: str
    ) -> None:
        body = f"propertyName,value\r\n{rows}\r\n".encode()
        error = refusal(make_zip({"manifest.csv": body}))
        assert (error.file, error.line) == ("manifest.csv", line)
        assert str(error).startswith(f"manifest.csv line {line}: ")
        assert expected in str(error)

    def test_a_missing_setting_says_which_row_to_add(self) -> None:
        body = b"propertyName,value\r\noneroster.version,1.2\r\n"
        error = refusal(make_zip({"manifest.csv": body}))
        assert (error.file, error.line) == ("manifest.csv", None)
        assert "add manifest.version,1.0" in str(error)

    def test_a_present_file_declared_absent_names_the_setting_line(self) -> None:
        body = manifest("1.2", users="absent")
        error = refusal(make_zip({"manifest.csv": body, "users.csv": USERS_11.encode()}))
        assert error.file == "users.csv"  # the file at odds with the manifest
        assert str(error).startswith("manifest.csv line 4: ")
        assert "declares file.users as absent" in str(error)

    def test_a_declared_file_missing_from_the_zip_names_the_setting_line(self) -> None:
        body = manifest("1.2", orgs="absent", users="bulk")
        error = refusal(make_zip({"manifest.csv": body}))
        assert error.file == "users.csv"
        assert str(error).startswith("manifest.csv line 5: ")
        assert "declares file.users as bulk, but users.csv is not in the zip" in str(error)
