"""ClassLink quirks mode: answer the way ClassLink's Roster Servers really do on OneRoster 1.1.

Turned on per tenant (`Tenant(..., quirks=True)`); everything here reshapes what is served and
never the tenant's data, so a district served with and without quirks is the same district. What
changes on the wire (see the reference, §4.4):

- booleans: the generator's strings `"true"`/`"false"` stay on most records, but some records
  (chosen by a hash of their sourcedId, so always the same ones) carry JSON booleans;
- paging headers are lower-case `x-count` / `x-total-count`, and there is no `Link` header;
- every GUIDRef `href` points at the district's own host (`certs-nj-v2.rosterserver.com`), not
  at the server answering;
- users carry a 1.2-style `roles[]` next to the 1.1 `role`;
- every other `tobedeleted` record says `inactive` (the 1.0 word) instead;
- absent values are empty strings (sms, phone, password, middleName, classCode, beginDate,
  endDate) and classes have `periods: []`.

sourcedIds of odd shapes cannot be a serving quirk (the portal keys records by them, so the same
district must keep the same ids): `with_odd_sourced_ids` renames a district's ids once, and both
quirky and plain tenants can then serve the result.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from rostersync.simulator.district import COLLECTIONS, DistrictData, Record

__all__ = ["QUIRK_HOST", "dress", "dress_all", "paging_headers", "with_odd_sourced_ids"]

QUIRK_HOST = "https://certs-nj-v2.rosterserver.com"
_BASE = "/ims/oneroster/v1p1"
# Values ClassLink sends as "" rather than leaving out, per resource.
_EMPTY_STRINGS: dict[str, tuple[str, ...]] = {
    "users": ("sms", "phone", "password", "middleName"),
    "classes": ("classCode",),
    "enrollments": ("beginDate", "endDate"),
}


def _picked(sourced_id: object, salt: str) -> bool:
    # A stable hash (never Python's salted hash()) so a record is quirky the same way every run.
    return zlib.crc32(f"{salt}:{sourced_id}".encode()) % 2 == 0


def _rehost(value: Any) -> Any:
    if isinstance(value, dict):
        copy = {key: _rehost(item) for key, item in value.items()}
        href = copy.get("href")
        if isinstance(href, str) and _BASE in href:
            copy["href"] = QUIRK_HOST + href[href.index(_BASE) :]
        return copy
    if isinstance(value, list):
        return [_rehost(item) for item in value]
    return value


def _as_json_bool(value: object) -> object:
    if value in ("true", "false"):
        return value == "true"
    return value


def dress(record: Record, source: str) -> Record:
    """A copy of one served record, reshaped the way ClassLink sends it.

    Args:
        record: The record as the tenant holds it (not modified).
        source: Its collection: `orgs`, `academicSessions`, `courses`, `classes`, `users` or
            `enrollments`.

    Returns:
        A new dict; nested GUIDRefs are copies too.
    """
    dressed: Record = _rehost(record)
    sid = dressed.get("sourcedId")
    if dressed.get("status") == "tobedeleted" and _picked(sid, "inactive"):
        dressed["status"] = "inactive"
    for name in _EMPTY_STRINGS.get(source, ()):
        if dressed.get(name) is None:
            dressed[name] = ""
    json_bools = _picked(sid, "bool")
    if source == "users":
        if json_bools and "enabledUser" in dressed:
            dressed["enabledUser"] = _as_json_bool(dressed["enabledUser"])
        if "role" in dressed:
            dressed["roles"] = [
                {
                    "roleType": "primary" if i == 0 else "secondary",
                    "role": dressed["role"],
                    "org": o,
                }
                for i, o in enumerate(dressed.get("orgs") or [])
            ]
    elif source == "enrollments":
        if json_bools and "primary" in dressed:
            dressed["primary"] = _as_json_bool(dressed["primary"])
    elif source == "classes":
        dressed["periods"] = []
    return dressed


def paging_headers(total: int, count: int) -> list[tuple[str, str]]:
    """ClassLink's paging headers: lower-case counts, no `Link`."""
    return [("x-count", str(count)), ("x-total-count", str(total))]


def _odd_id(record: Record, collection: str, n: int) -> str:
    sid = str(record["sourcedId"])
    if collection == "orgs":
        return "7" if record.get("type") == "district" else f"7_{1111 + n}"
    if collection == "academicSessions":
        return "FY" if record.get("type") == "schoolYear" else f"FY {sid.rsplit('-', 1)[-1]}"
    if collection == "classes":
        return f"5678_T5678-{n:04d}"
    if collection == "users":
        role = record.get("role")
        if role == "student":
            # Spaces and slashes: both must be escaped when they appear in a path.
            return f"S {n:06d}" if n % 2 else f"stu/{n:06d}"
        return f"G{333333 + n}" if role == "teacher" else f"{role}_{n}"
    return sid


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        copy = {key: _renamed(item, names) for key, item in value.items()}
        sid = copy.get("sourcedId")
        if isinstance(sid, str) and sid in names:
            copy["sourcedId"] = names[sid]
            href = copy.get("href")
            if isinstance(href, str):
                copy["href"] = f"{href.rsplit('/', 1)[0]}/{quote(names[sid], safe='')}"
        return copy
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


def with_odd_sourced_ids(data: DistrictData) -> DistrictData:
    """The same district with sourcedIds shaped like ClassLink tenants' (`7_1111`, `FY`, …).

    Orgs become `7` and `7_1112`…, the school year `FY` and terms `FY fall`, classes
    `5678_T5678-0001`…, teachers `G333334`…, students `S 000001` or `stu/000002`, other users
    `<role>_<n>`. References, hrefs and `planted` follow. Courses and enrollments keep theirs.

    Args:
        data: Any district (not modified).

    Returns:
        A new district; every record is a copy.
    """
    names: dict[str, str] = {}
    for collection in COLLECTIONS:
        for n, record in enumerate(data.collection(collection), start=1):
            new = _odd_id(record, collection, n)
            if new != record["sourcedId"]:
                names[str(record["sourcedId"])] = new
    if len(set(names.values())) != len(names):
        raise ValueError("odd sourcedIds collided; this district's ids cannot be renamed")
    renamed: dict[str, Any] = {
        c: [_renamed(r, names) for r in data.collection(c)] for c in COLLECTIONS
    }
    planted = [
        dataclasses.replace(
            p,
            sourced_id=names.get(p.sourced_id, p.sourced_id),
            related=tuple(names.get(r, r) for r in p.related),
        )
        for p in data.planted
    ]
    return dataclasses.replace(data, planted=planted, **renamed)


def dress_all(records: Iterable[Record], source: str) -> list[Record]:
    """`dress` for each record of a page."""
    return [dress(record, source) for record in records]
