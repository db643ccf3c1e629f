"""From OneRoster 1.2 JSON records to the same source records 1.1 yields. Pure functions, no I/O.

Only the user changed shape in 1.2: `role` and `orgs` became `roles[]` (roleType primary or
secondary, per org) and `primaryOrg`. The person's role is the primary role at the primary org
(else the first primary, else the first listed); their orgs are the primary org followed by every
org a role names, in order, without repeats.

1.2 split 1.1's `administrator` by level into `districtAdministrator`, `siteAdministrator` and
`systemAdministrator`. All three are read back as `administrator`: the level is already in the
person's orgs (a district org or a school), enrollments still say `administrator` in 1.2, and so a
district moving from 1.1 to 1.2 does not see every administrator account "updated". The roles 1.2
added without a 1.1 counterpart (`principal`, `counselor`) are kept as sent. Preferred names,
pronouns and `userProfiles` (which may hold credentials) are not carried: the portal shows the
legal names 1.1 gives, and credentials are never kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from rostersync.domain.records import Person, Record
from rostersync.oneroster import mapping

__all__ = ["MAPPERS_V1P2", "ROLES_V1P2", "role_from_v1p2", "to_person_v1p2"]

# The 1.2 user role vocabulary (extension roles `ext:…` are kept as sent too).
ROLES_V1P2 = frozenset(
    {
        "aide",
        "counselor",
        "districtAdministrator",
        "guardian",
        "parent",
        "principal",
        "proctor",
        "relative",
        "siteAdministrator",
        "student",
        "systemAdministrator",
        "teacher",
    }
)
_AS_ADMINISTRATOR = frozenset({"districtAdministrator", "siteAdministrator", "systemAdministrator"})


def role_from_v1p2(role: str) -> str:
    """The portal's role for a 1.2 user role: the administrator levels become `administrator`."""
    return "administrator" if role in _AS_ADMINISTRATOR else role


def _entries(value: object) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _primary_role(entries: list[Mapping[str, Any]], primary_org: str | None) -> str:
    def is_primary(entry: Mapping[str, Any]) -> bool:
        return mapping._text(entry.get("roleType")).strip().lower() == "primary"

    at_primary_org = [
        e for e in entries if primary_org and mapping._ref(e.get("org")) == primary_org
    ]
    chosen = (
        next((e for e in at_primary_org if is_primary(e)), None)
        or next((e for e in entries if is_primary(e)), None)
        or (entries[0] if entries else None)
    )
    return mapping._text(chosen.get("role")) if chosen is not None else ""


def to_person_v1p2(raw: object) -> Person:
    """Map a 1.2 user (`UserDType`) to the `Person` a 1.1 server's same user maps to.

    A user that still carries the 1.1 `role`/`orgs` (some servers send both) is read by them,
    exactly as the 1.1 mapping does.

    Raises:
        FatalSourceError: `raw` is not a JSON object.
    """
    item = mapping._object(raw, "user")
    entries = _entries(item.get("roles"))
    primary_org = mapping._ref(item.get("primaryOrg"))
    person = mapping.to_person(item)
    role = mapping._str(item, "role") or role_from_v1p2(_primary_role(entries, primary_org))
    if "orgs" in item:
        orgs = person.org_sourced_ids
    else:
        found: list[str | None] = [primary_org]
        found += [mapping._ref(e.get("org")) for e in entries]
        orgs = tuple(dict.fromkeys(o for o in found if o))
    return dataclasses.replace(person, role=role, org_sourced_ids=orgs)


# Keyed like `mapping.MAPPERS`; every resource but the user keeps its 1.1 shape in 1.2.
MAPPERS_V1P2: dict[str, Callable[[object], Record]] = {
    **mapping.MAPPERS,
    "users": to_person_v1p2,
    "students": to_person_v1p2,
    "teachers": to_person_v1p2,
}
