"""Builders for OneRoster CSV bundles in tests: a small valid district, and ways to break it."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from collections.abc import Mapping

from rostersync.simulator import DistrictData, generate_district
from rostersync.simulator.bundle_writer import write_bundle

USERS_11 = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)


def small_district() -> DistrictData:
    return generate_district(students=30, seed=5)


def bundle_bytes(data: DistrictData | None = None, **kw: str) -> bytes:
    buf = io.BytesIO()
    write_bundle(data or small_district(), buf, **kw)
    return buf.getvalue()


def members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def make_zip(entries: Mapping[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    """A zip of exactly these entries (duplicates allowed), deflated."""
    items = list(entries.items()) if isinstance(entries, Mapping) else entries
    buf = io.BytesIO()
    with (
        warnings.catch_warnings(),
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        # zipfile warns on a duplicate name, which is exactly what some tests build.
        warnings.simplefilter("ignore", UserWarning)
        for name, data in items:
            zf.writestr(name, data)
    return buf.getvalue()


def manifest(version: str = "1.1", **files: str) -> bytes:
    rows = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}"]
    rows += [f"file.{name},{mode}" for name, mode in files.items()]
    return ("\r\n".join(rows) + "\r\n").encode()


def users_only(rows: list[str], *, header: str = USERS_11, mode: str = "bulk") -> bytes:
    """A 1.1 bundle holding only users.csv with these rows (already encoded as UTF-8)."""
    body = "\r\n".join([header, *rows]) + "\r\n"
    return make_zip({"manifest.csv": manifest(users=mode), "users.csv": body.encode()})


def patch_central(bundle: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of `name`'s central-directory entry (offsets per APPNOTE 4.3.12)."""
    data = bytearray(bundle)
    pos = 0
    while True:
        pos = data.index(b"PK\x01\x02", pos)
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == name.encode():
            struct.pack_into(fmt, data, pos + offset, value)
            return bytes(data)
        pos += 4
