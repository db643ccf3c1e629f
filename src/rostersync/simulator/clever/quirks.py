"""How a real district's Clever data differs from the tidy translation, for clients to survive.

Turned on per district (`CleverSimulator.set_quirks`), each record is served with:

- fields that have no value left out instead of sent as null;
- a section's primary teacher (`teacher`) missing from its `teachers` list;
- fields a client does not know: `legacy_id` on people, an empty `ext` on teacher and staff roles,
  and `created` on role objects.

None of them changes who is who: a client must give the same portal with or without them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["quirky"]

Record = dict[str, Any]


def _without_nulls(record: Record) -> Record:
    return {
        key: _without_nulls(value) if isinstance(value, dict) else value
        for key, value in record.items()
        if value is not None
    }


def quirky(kind: str, record: Record) -> Record:
    """The record as a quirky district's Clever serves it (the stored record is not changed)."""
    served = _without_nulls(record)
    if kind == "sections" and served.get("teacher"):
        served["teachers"] = [t for t in served.get("teachers", []) if t != served["teacher"]]
    if kind == "users":
        served["legacy_id"] = served["id"][::-1]
        roles = {name: dict(role) for name, role in served.get("roles", {}).items()}
        for name, role in roles.items():
            role.setdefault("created", served.get("created", "2026-08-01T00:00:00.000Z"))
            if name in ("teacher", "staff"):
                role.setdefault("ext", {})
        served["roles"] = roles
    return served
