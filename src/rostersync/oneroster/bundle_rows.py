"""Rows of a OneRoster CSV bundle → the OneRoster JSON shape the REST mappers read.

GUIDRefs carry only a sourcedId (a bundle has no hrefs, and the mapping never reads them). Every
id, a record's own and each reference, is normalised by `mapping.sourced_id`, exactly as the REST
records are, so a cell with a stray space still joins its record to the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from sys import intern
from typing import Any

from rostersync.oneroster.mapping import sourced_id

__all__ = ["CONVERTERS", "Roles", "user_ids", "users_11"]

_USER_ID = re.compile(r"\{([^{}]*)\}")


class Roles:
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
        user = sourced_id(row["userSourcedId"])
        held = self._by_user.get(user)
        if held is None:
            self._by_user[user] = index
        elif isinstance(held, int):
            self._by_user[user] = (held, index)
        else:
            self._by_user[user] = (*held, index)

    def of(self, user: str) -> list[dict[str, Any]]:
        held = self._by_user.get(sourced_id(user))
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


def _ref(cell: str) -> dict[str, str] | None:
    cell = sourced_id(cell)
    return {"sourcedId": cell} if cell else None


def _list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(",") if part.strip()]


def _refs(cell: str) -> list[dict[str, str]]:
    return [{"sourcedId": sourced_id(sid)} for sid in _list(cell)]


def user_ids(cell: str) -> list[dict[str, str]]:
    """A `userIds` cell as OneRoster's JSON list of {type, identifier}.

    `{LDAP:12},{Fed:23}`; the braces make a comma inside an identifier safe.
    """
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
        "userIds": user_ids(c["userIds"]),
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


def users_11(c: dict[str, Any]) -> dict[str, Any]:
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


CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "orgs": _org,
    "academicSessions": _session,
    "courses": _course,
    "classes": _class,
    "users": _user,
    "enrollments": _enrollment,
}
