"""Fuzzing the CSV bundle reader in CI: it reads a bundle or refuses it with a located
`BundleError`, whatever bytes arrive (`bench.fuzz.targets`; the long run is `python -m
bench.fuzz`)."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from bench.fuzz.targets import LIMITS, bundles, check_bundle, valid_bundle
from hypothesis import HealthCheck, given, settings
from tests.unit.oneroster.bundle_helpers import members

from rostersync.oneroster.bundle import Bundle, BundleError, BundleLimits


def test_the_unmutated_bundles_are_read_whole() -> None:
    """The mutations start from bundles the reader accepts, so a refusal is the mutation's."""
    assert check_bundle(valid_bundle("1.1")) == "read"
    assert check_bundle(valid_bundle("1.2")) == "read"


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=bundles(), limits=LIMITS)
def test_any_bundle_is_read_or_refused_with_its_file_named(
    data: bytes, limits: BundleLimits | None
) -> None:
    check_bundle(data, limits)


def test_a_member_whose_own_header_is_damaged_is_refused_naming_it() -> None:
    """Found by the fuzzer: the directory is intact but a member's local header is not, and
    `zipfile` raised `BadZipFile` on opening it instead of a refusal."""
    data = bytearray(valid_bundle("1.1"))
    assert data[:4] == b"PK\x03\x04"  # the first member's local header (manifest.csv)
    data[0] = 0
    with pytest.raises(BundleError) as refused, Bundle(bytes(data)) as bundle:
        list(bundle.records())
    assert refused.value.file == "manifest.csv"
    assert "damaged inside the zip" in str(refused.value)


def test_an_entry_with_no_name_is_refused() -> None:
    """Found by the fuzzer: `zipfile` raised IndexError asking whether an unnamed entry is a
    folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members(valid_bundle("1.1")).items():
            zf.writestr(name, data)
        zf.writestr(zipfile.ZipInfo(""), b"x")
    with pytest.raises(BundleError) as refused, Bundle(buf.getvalue()) as bundle:
        list(bundle.records())
    assert refused.value.file == "(an entry with no name)"
    assert "no name" in str(refused.value)


def _refusal(data: bytes) -> BundleError:
    with pytest.raises(BundleError) as refused, Bundle(data) as bundle:
        list(bundle.records())
    return refused.value


def test_a_directory_asking_for_an_unknown_zip_version_is_refused() -> None:
    """Found by the fuzzer: `zipfile` raised NotImplementedError ("zip file version 6.4")."""
    data = bytearray(valid_bundle("1.1"))
    entry = data.find(b"PK\x01\x02")  # the first central directory entry
    data[entry + 6] = 64  # version needed to extract: 6.4
    refused = _refusal(bytes(data))
    assert refused.file == "the bundle"
    assert "not a readable zip file" in str(refused)


def test_a_directory_whose_offsets_point_before_the_file_is_refused() -> None:
    """Found by the fuzzer: opening a member raised ValueError ("negative seek value")."""
    data = bytearray(valid_bundle("1.1"))
    end = data.rfind(b"PK\x05\x06")  # the end of central directory record
    (offset,) = struct.unpack_from("<L", data, end + 16)
    struct.pack_into("<L", data, end + 16, offset + 0x7C000000)
    refused = _refusal(bytes(data))
    assert refused.file == "manifest.csv"
    assert "damaged inside the zip" in str(refused)


def test_a_member_flagged_for_strong_encryption_is_refused_as_encrypted() -> None:
    """Found by the fuzzer: a directory entry flagged "strong encryption" (bit 6) passed the
    encryption check (bit 0 only) and `zipfile` raised NotImplementedError on opening it."""
    data = bytearray(valid_bundle("1.1"))
    entry = data.find(b"PK\x01\x02")  # the first central directory entry (manifest.csv)
    data[entry + 8] |= 0x40  # its general purpose flags: bit 6
    refused = _refusal(bytes(data))
    assert refused.file == "manifest.csv"
    assert "is encrypted" in str(refused)


def test_a_member_flagged_as_patch_data_is_refused() -> None:
    """The same, for "compressed patched data" (bit 5), which nothing in a bundle uses."""
    data = bytearray(valid_bundle("1.1"))
    entry = data.find(b"PK\x01\x02")
    data[entry + 8] |= 0x20
    refused = _refusal(bytes(data))
    assert refused.file == "manifest.csv"
    assert "damaged inside the zip" in str(refused)
