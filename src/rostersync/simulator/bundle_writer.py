"""Write a generated district as a OneRoster 1.1 or 1.2 CSV bundle (a zip with manifest.csv).

Rows are streamed into each zip member one at a time: no whole file is ever built in memory, so
a million-student district writes in bounded memory. Columns follow the spec order of
`rostersync.oneroster.bundle_schema`; list cells are comma-joined (`"09,10"`), userIds are
`{type:identifier}` items, and each metadata key becomes a `metadata.<key>` column after the
spec columns.

In a `bulk` bundle `status` and `dateLastModified` are left blank, as the spec says a snapshot's
are, except on `tobedeleted` rows, which keep their status so the removal is not lost. A `delta`
bundle fills both.

For 1.2, each user's 1.1 `role` and `orgs` become rows of roles.csv (`primary` for every org: a
1.1 user holds one role). The role is written as it is, even 1.1's `administrator`, so the same
district reads back into identical records through either version.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from rostersync.oneroster.bundle_schema import FILES, MANIFEST_VERSION, VERSIONS, columns_for
from rostersync.simulator.district import DistrictData, Record
from rostersync.simulator.stream import StreamingDistrict

__all__ = ["write_bundle"]

_DATA_FILES = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")


def write_bundle(
    data: DistrictData | StreamingDistrict,
    target: str | Path | IO[bytes],
    *,
    version: str = "1.1",
    mode: str = "bulk",
    encoding: str = "utf-8",
) -> None:
    """Write `data` as a OneRoster CSV bundle.

    Args:
        data: The district, e.g. from `generate_district`, or a `StreamingDistrict`, whose
            collections are generated while they are written (bounded memory at any size).
        target: A path or a writable binary file object for the zip.
        version: "1.1" or "1.2".
        mode: "bulk" (a full snapshot) or "delta"; every written file gets this mode.
        encoding: "utf-8", "utf-8-sig" (with a BOM, as Excel's "CSV UTF-8" writes) or "cp1252"
            (Excel's plain "CSV"; a name outside Windows-1252 raises UnicodeEncodeError).

    Raises:
        ValueError: An unknown version or mode.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}")
    if mode not in ("bulk", "delta"):
        raise ValueError("mode must be 'bulk' or 'delta'")
    written = (*_DATA_FILES, "roles") if version == "1.2" else _DATA_FILES
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        manifest = [
            ("manifest.version", MANIFEST_VERSION),
            ("oneroster.version", version),
            *((f"file.{n}", mode if n in written else "absent") for n in FILES[version]),
            ("source.systemName", "rostersync simulator"),
            ("source.systemCode", data.tenant),
        ]
        _write_member(zf, "manifest.csv", ("propertyName", "value"), iter(manifest), "utf-8")
        for name in _DATA_FILES:
            records = data.collection(name)
            # A stream declares its metadata keys: scanning it first would generate it twice.
            if isinstance(data, StreamingDistrict):
                keys = list(data.metadata_keys(name))
            else:
                keys = _metadata_keys(records)
            header = (*columns_for(version, name), *(f"metadata.{k}" for k in keys))
            to_row = _ROWS[name]
            users_12 = version == "1.2" and name == "users"
            rows = (
                (
                    *(_user_12(r, mode) if users_12 else to_row(r, mode)),
                    *(_text(r.get("metadata", {}).get(k)) for k in keys),
                )
                for r in records
            )
            _write_member(zf, f"{name}.csv", header, rows, encoding)
        if version == "1.2":
            users = data.collection("users")
            roles = (row for user in users for row in _roles(user, mode))
            _write_member(zf, "roles.csv", columns_for("1.2", "roles"), roles, encoding)


def _write_member(
    zf: zipfile.ZipFile,
    name: str,
    header: tuple[str, ...],
    rows: Iterator[tuple[str, ...]],
    encoding: str,
) -> None:
    # force_zip64: the size is unknown until the stream ends and may pass 2 GB.
    with (
        zf.open(name, "w", force_zip64=True) as member,
        io.TextIOWrapper(member, encoding=encoding, newline="") as text,
    ):
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def _metadata_keys(records: Iterable[Record]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records:
        meta = record.get("metadata")
        if isinstance(meta, Mapping):
            keys.update(dict.fromkeys(meta))
    return sorted(keys)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sid(ref: object) -> str:
    return _text(ref.get("sourcedId")) if isinstance(ref, Mapping) else _text(ref)


def _sids(refs: object) -> str:
    return ",".join(_sid(r) for r in refs) if isinstance(refs, list) else ""


def _join(values: object) -> str:
    return ",".join(_text(v) for v in values) if isinstance(values, list) else _text(values)


def _common(r: Record, mode: str) -> tuple[str, str, str]:
    status = _text(r.get("status"))
    if mode == "bulk" and status in ("", "active"):
        return _text(r["sourcedId"]), "", ""
    return _text(r["sourcedId"]), status, _text(r.get("dateLastModified"))


def _org(r: Record, mode: str) -> tuple[str, ...]:
    return (
        *_common(r, mode),
        _text(r.get("name")),
        _text(r.get("type")),
        _text(r.get("identifier")),
        _sid(r.get("parent")),
    )


def _session(r: Record, mode: str) -> tuple[str, ...]:
    return (
        *_common(r, mode),
        _text(r.get("title")),
        _text(r.get("type")),
        _text(r.get("startDate")),
        _text(r.get("endDate")),
        _sid(r.get("parent")),
        _text(r.get("schoolYear")),
    )


def _course(r: Record, mode: str) -> tuple[str, ...]:
    return (
        *_common(r, mode),
        _sid(r.get("schoolYear")),
        _text(r.get("title")),
        _text(r.get("courseCode")),
        _join(r.get("grades")),
        _sid(r.get("org")),
        _join(r.get("subjects")),
        _join(r.get("subjectCodes")),
    )


def _class(r: Record, mode: str) -> tuple[str, ...]:
    return (
        *_common(r, mode),
        _text(r.get("title")),
        _join(r.get("grades")),
        _sid(r.get("course")),
        _text(r.get("classCode")),
        _text(r.get("classType")),
        _text(r.get("location")),
        _sid(r.get("school")),
        _sids(r.get("terms")),
        _join(r.get("subjects")),
        _join(r.get("subjectCodes")),
        _join(r.get("periods")),
    )


def _user_ids(r: Record) -> str:
    items = r.get("userIds")
    if not isinstance(items, list):
        return ""
    return ",".join(
        f"{{{_text(i.get('type'))}:{_text(i.get('identifier'))}}}"
        for i in items
        if isinstance(i, Mapping)
    )


def _person(r: Record) -> tuple[str, ...]:
    """The user columns 1.1 and 1.2 share, from username to password."""
    return (
        _text(r.get("username")),
        _user_ids(r),
        _text(r.get("givenName")),
        _text(r.get("familyName")),
        _text(r.get("middleName")),
        _text(r.get("identifier")),
        _text(r.get("email")),
        _text(r.get("sms")),
        _text(r.get("phone")),
        _sids(r.get("agents")),
        _join(r.get("grades")),
        _text(r.get("password")),
    )


def _user(r: Record, mode: str) -> tuple[str, ...]:
    return (
        *_common(r, mode),
        _text(r.get("enabledUser")),
        _sids(r.get("orgs")),
        _text(r.get("role")),
        *_person(r),
    )


def _user_12(r: Record, mode: str) -> tuple[str, ...]:
    orgs = r.get("orgs") or []
    return (
        *_common(r, mode),
        _text(r.get("enabledUser")),
        *_person(r),
        "",  # userMasterIdentifier
        "",  # preferredGivenName
        "",  # preferredMiddleName
        "",  # preferredFamilyName
        _sid(orgs[0]) if orgs else "",
        "",  # pronouns
    )


def _roles(user: Record, mode: str) -> Iterator[tuple[str, ...]]:
    status, stamp = _common(user, mode)[1:]
    for n, org in enumerate(user.get("orgs") or [], start=1):
        yield (
            f"{_text(user['sourcedId'])}-role-{n}",
            status,
            stamp,
            _text(user["sourcedId"]),
            "primary",
            _text(user.get("role")),
            "",
            "",
            _sid(org),
            "",
        )


def _enrollment(r: Record, mode: str) -> tuple[str, ...]:
    return (
        *_common(r, mode),
        _sid(r.get("class")),
        _sid(r.get("school")),
        _sid(r.get("user")),
        _text(r.get("role")),
        _text(r.get("primary")),
        _text(r.get("beginDate")),
        _text(r.get("endDate")),
    )


_ROWS: dict[str, Callable[[Record, str], tuple[str, ...]]] = {
    "orgs": _org,
    "academicSessions": _session,
    "courses": _course,
    "classes": _class,
    "users": _user,
    "enrollments": _enrollment,
}
