"""From OneRoster 1.1 JSON records to rostersync's source records. Pure functions, no I/O.

The mapping is lenient and faithful: it reads what servers actually send (`"true"` or `true`,
`inactive` for `tobedeleted`, GUIDRefs or bare ids, 1.2 `roles[]` on a 1.1 user) and keeps values as
sent, but for ids: a record's sourcedId and every reference to one lose surrounding whitespace
alike (`sourced_id`), so a stray space never parts a person from their enrollments. It judges
nothing: a missing required field becomes `""` or None, and validation reports it with the
record's id. Only an item that is not a JSON object at all is an error, because there is no
record to report on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from sys import intern
from typing import Any

from rostersync.domain.records import (
    ACTIVE,
    TO_BE_DELETED,
    AcademicSession,
    Course,
    Enrollment,
    Org,
    Person,
    Record,
    SchoolClass,
    shared,
)
from rostersync.errors import FatalSourceError

__all__ = [
    "MAPPERS",
    "flag",
    "flat_metadata",
    "record_status",
    "sourced_id",
    "text",
    "to_academic_session",
    "to_class",
    "to_course",
    "to_enrollment",
    "to_org",
    "to_person",
]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _object(raw: object, entity: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise FatalSourceError(
            f"the source sent a {entity} that is not a JSON object ({type(raw).__name__}); "
            "the roster server's export is malformed"
        )
    return raw


def text(value: object) -> str:
    """A JSON value as the text a record keeps: null → "", booleans as true/false, numbers as
    written; an object or list as compact, sorted JSON (readable and deterministic)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


_text = text


def _str(raw: Mapping[str, Any], key: str) -> str:
    return _text(raw.get(key))


def _optional(raw: Mapping[str, Any], key: str) -> str | None:
    return _str(raw, key) or None


def flag(value: object, default: bool) -> bool:
    """A boolean cell or JSON value: true/1/yes and false/0/no in any case, else `default`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        token = value.strip().lower()
        if token in _TRUE:
            return True
        if token in _FALSE:
            return False
    return default


_bool = flag


def record_status(value: str) -> str:
    """A record's status as rostersync keeps it, from the text the source sent.

    `inactive` is the 1.0 spelling of `tobedeleted`. A missing status means the record is
    present, i.e. active: mapping it to "" would read as a removal downstream. Anything else is
    kept as sent, for validation to name.
    """
    token = value.strip().lower()
    if token in ("tobedeleted", "inactive"):
        return TO_BE_DELETED
    if token in ("active", ""):
        return ACTIVE
    return value


def _status(raw: Mapping[str, Any]) -> str:
    return record_status(_str(raw, "status"))


def sourced_id(value: object) -> str:
    """A sourcedId as rostersync keeps it: text without surrounding whitespace.

    Every id is read through here, a record's own and every reference to one, whichever door it
    came through (REST, proxy or CSV bundle), so `" 42 "` and `"42"` are one record.
    """
    return _text(value).strip()


def _ref(value: object) -> str | None:
    # A GUIDRef's `href` points at the district host, not where we connect: read only sourcedId.
    if isinstance(value, Mapping):
        value = value.get("sourcedId")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return sourced_id(value) or None
    return None


def _refs(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else ([] if value is None else [value])
    return tuple(ref for ref in (_ref(item) for item in items) if ref is not None)


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(_text(item) for item in value if item is not None)
    if isinstance(value, str):
        # CSV habits leak into JSON: `"grades": "09,10"`.
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return ()


def _user_ids(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        (_text(item.get("type")), _text(item.get("identifier")))
        for item in value
        if isinstance(item, Mapping)
    )


def flat_metadata(value: object) -> dict[str, str]:
    """Extension fields (OneRoster `metadata`, Clever `ext`) as text, one level flattened: a
    district names `classlink.eligibility` or `eligibility` as its field at onboarding."""
    if not isinstance(value, Mapping):
        return {}
    flat: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            # One level only: districts name fields like `classlink.eligibility`; deeper values
            # stay as JSON text rather than inventing longer dotted paths.
            for inner_key, inner in item.items():
                flat[f"{key}.{inner_key}"] = _text(inner)
        else:
            flat[str(key)] = _text(item)
    return flat


def _common(raw: Mapping[str, Any]) -> dict[str, Any]:
    modified = _optional(raw, "dateLastModified")
    return {
        "sourced_id": sourced_id(raw.get("sourcedId")),
        "status": _status(raw),
        # One shared string per stamp: a bulk SIS update stamps thousands of records alike.
        "date_last_modified": intern(modified) if modified else modified,
    }


def to_org(raw: object) -> Org:
    """Map a 1.1 org (school, district, …).

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "org")
    return Org(
        **_common(item),
        name=_str(item, "name"),
        type=_str(item, "type"),
        identifier=_str(item, "identifier"),
        parent_sourced_id=_ref(item.get("parent")),
    )


def to_academic_session(raw: object) -> AcademicSession:
    """Map a 1.1 academicSession (school year, semester, term, grading period).

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "academicSession")
    return AcademicSession(
        **_common(item),
        title=_str(item, "title"),
        type=_str(item, "type"),
        start_date=_str(item, "startDate"),
        end_date=_str(item, "endDate"),
        school_year=_str(item, "schoolYear"),
        parent_sourced_id=_ref(item.get("parent")),
    )


def to_course(raw: object) -> Course:
    """Map a 1.1 course.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "course")
    # Kept for the whole run (a big district has tens of thousands): what many courses repeat
    # is one shared object.
    return Course(
        **_common(item),
        title=_str(item, "title"),
        course_code=_str(item, "courseCode"),
        org_sourced_id=shared(_ref(item.get("org"))),
        school_year_sourced_id=shared(_ref(item.get("schoolYear"))),
        grades=shared(_strings(item.get("grades"))),
    )


def to_class(raw: object) -> SchoolClass:
    """Map a 1.1 class (section).

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "class")
    # Kept for the whole run (a big district has hundreds of thousands): what many classes
    # repeat (type, course, school, terms, grades) is one shared object.
    return SchoolClass(
        **_common(item),
        title=_str(item, "title"),
        class_code=_str(item, "classCode"),
        class_type=shared(_str(item, "classType")),
        course_sourced_id=shared(_ref(item.get("course"))),
        school_sourced_id=shared(_ref(item.get("school"))),
        term_sourced_ids=shared(_refs(item.get("terms"))),
        grades=shared(_strings(item.get("grades"))),
    )


def _primary_role(roles: object) -> tuple[str, tuple[str, ...]]:
    # 1.2 users carry `roles: [{roleType: primary|secondary, role, org}]` instead of role/orgs.
    entries = [r for r in roles if isinstance(r, Mapping)] if isinstance(roles, list) else []
    primary = next((r for r in entries if _text(r.get("roleType")) == "primary"), None)
    chosen = primary or (entries[0] if entries else None)
    role = _text(chosen.get("role")) if chosen is not None else ""
    orgs = _refs([r.get("org") for r in entries])
    return role, tuple(dict.fromkeys(orgs))


def to_person(raw: object) -> Person:
    """Map a 1.1 user (student, teacher, administrator, guardian, …).

    `role` is kept as sent; when absent, the primary role of a 1.2-style `roles[]` is used, and
    its orgs stand in for a missing `orgs` list.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    if type(raw) is dict and "roles" not in raw:
        plain = _plain_person(raw)
        if plain is not None:
            return plain
    item = _object(raw, "user")
    fallback_role, fallback_orgs = _primary_role(item.get("roles"))
    orgs = _refs(item.get("orgs")) if "orgs" in item else fallback_orgs
    # Roles, schools and grades repeat across a district's users: one shared string each.
    return Person(
        **_common(item),
        role=intern(_str(item, "role") or fallback_role),
        username=_str(item, "username"),
        given_name=_str(item, "givenName"),
        family_name=_str(item, "familyName"),
        middle_name=_str(item, "middleName"),
        identifier=_str(item, "identifier"),
        email=_str(item, "email"),
        enabled=_bool(item.get("enabledUser"), default=True),
        org_sourced_ids=tuple(map(intern, orgs)),
        grades=tuple(map(intern, _strings(item.get("grades")))),
        user_ids=_user_ids(item.get("userIds")),
        metadata=flat_metadata(item.get("metadata")),
    )


_TEXT = (str, type(None))


def _plain_person(item: dict[str, Any]) -> Person | None:
    """`to_person` of a 1.1 user of the usual shape, read without a type check per value: every
    text field text or null, `orgs` objects with a text `sourcedId`, `grades` text, `userIds`
    objects of text, `metadata` text values. None for any other shape (`to_person` reads it)."""
    get = item.get
    texts = [get(name) for name in _PERSON_TEXT]
    if not all(isinstance(value, _TEXT) for value in texts):
        return None
    orgs, grades, ids, metadata = get("orgs"), get("grades"), get("userIds"), get("metadata")
    if orgs is not None and not (
        type(orgs) is list
        and all(type(o) is dict and type(o.get("sourcedId")) is str for o in orgs)
    ):
        return None
    if grades is not None and not (type(grades) is list and all(type(g) is str for g in grades)):
        return None
    if ids is not None and not (
        type(ids) is list
        and all(
            type(i) is dict
            and isinstance(i.get("type"), _TEXT)
            and isinstance(i.get("identifier"), _TEXT)
            for i in ids
        )
    ):
        return None
    if metadata is not None and not (
        type(metadata) is dict and all(type(v) is str for v in metadata.values())
    ):
        return None
    sid, status, stamp, role, username, given, family, middle, identifier, email = (
        value or "" for value in texts
    )
    return Person(
        sourced_id=sid.strip(),
        status=record_status(status),
        date_last_modified=intern(stamp) if stamp else None,
        role=intern(role),
        username=username,
        given_name=given,
        family_name=family,
        middle_name=middle,
        identifier=identifier,
        email=email,
        enabled=flag(get("enabledUser"), default=True),
        org_sourced_ids=tuple(
            intern(sid) for sid in (o["sourcedId"].strip() for o in orgs or ()) if sid
        ),
        grades=tuple(map(intern, grades or ())),
        user_ids=tuple((i.get("type") or "", i.get("identifier") or "") for i in ids or ()),
        metadata={str(key): value for key, value in (metadata or {}).items()},
    )


_PERSON_TEXT = (
    "sourcedId",
    "status",
    "dateLastModified",
    "role",
    "username",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
)


def to_enrollment(raw: object) -> Enrollment:
    """Map a 1.1 enrollment.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = _object(raw, "enrollment")
    return Enrollment(
        **_common(item),
        class_sourced_id=_ref(item.get("class")) or "",
        school_sourced_id=_ref(item.get("school")) or "",
        user_sourced_id=_ref(item.get("user")) or "",
        role=_str(item, "role"),
        primary=_bool(item.get("primary"), default=False),
        begin_date=_optional(item, "beginDate"),
        end_date=_optional(item, "endDate"),
    )


# Keyed by the collection names `OneRosterClient.iter_collection` accepts.
MAPPERS: dict[str, Callable[[object], Record]] = {
    "orgs": to_org,
    "schools": to_org,
    "academicSessions": to_academic_session,
    "terms": to_academic_session,
    "gradingPeriods": to_academic_session,
    "courses": to_course,
    "classes": to_class,
    "users": to_person,
    "students": to_person,
    "teachers": to_person,
    "enrollments": to_enrollment,
}
