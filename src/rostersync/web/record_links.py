"""Where a record's page is, and how its history reads: pure functions for the admin templates.

`record_url` is the one place a page links a roster record to its page (the record pages are in
`web/records.py`); any admin template whose environment registers it links a row with

    {% set url = record_url(district.slug, i.entity, i.sourced_id) %}
    {% if url %}<a href="{{ url }}">…</a>{% endif %}

It answers "" for a kind without a page (an enrollment, a term, a course). `change_words` says
what one audit entry did, from the fields it keeps (never names or emails).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from rostersync.domain.records import EntityKind

# The kind of a record (as issues, plans and the audit log name it) → its pages' path segment.
PAGES = {
    EntityKind.STUDENT.value: "people",
    EntityKind.EDUCATOR.value: "people",
    EntityKind.CLASS.value: "classes",
    EntityKind.ORG.value: "schools",
}
_ACTIONS = {
    "create": "created",
    "update": "changed",
    "deactivate": "deactivated",
    "restore": "restored",
    "export": "exported (a privacy request)",
}
_STATUS = {"eligible": "eligible", "not_eligible": "not eligible", "unconfirmed": "unconfirmed"}
_KEYS = {"sourcedId": "{source} id", "email": "email", "student_id": "student ID"}


def record_url(slug: str, kind: str, sourced_id: str | None) -> str:
    """The admin page of the district's record of this kind and sourcedId; "" when the kind
    has no page or the record no id (the id is quoted, so any character is safe)."""
    page = PAGES.get(kind)
    if not page or not sourced_id:
        return ""
    return f"/admin/districts/{quote(slug, safe='')}/{page}/{quote(sourced_id, safe='')}"


def eligibility_words(status: str | None, category: str | None = None) -> str:
    """An eligibility status in words: "eligible (free)", "not eligible", "unconfirmed"."""
    if not status:
        return "not set"
    words = _STATUS.get(status, status.replace("_", " "))
    return f"{words} ({category})" if category else words


def _eligibility(changes: Mapping[str, Any], source: str) -> str:
    after = changes.get("after") or {}
    before = changes.get("before")
    now = eligibility_words(after.get("status"), after.get("category"))
    # A district confirms eligibility in the portal, or sends it from its source (a field).
    sent = changes.get("source")
    where = f" from {source}" if sent and sent != "portal" else ""
    if not isinstance(before, Mapping):
        return f"eligibility set to {now}{where}"
    was = eligibility_words(before.get("status"), before.get("category"))
    return f"eligibility changed from {was} to {now}{where}"


def change_words(action: str, changes: Mapping[str, Any] | None, source: str = "ClassLink") -> str:
    """What one audit entry did, in words: "changed given name, grade", "created by hand";
    `source` is what the district's roster source is called ("ClassLink", "Clever")."""
    changes = changes or {}
    if action == "eligibility":
        return _eligibility(changes, source)
    if action == "match":
        key = _KEYS.get(str(changes.get("key", "")), str(changes.get("key", "")).replace("_", " "))
        key = key.format(source=source)
        return f"matched to its {source} record by {key}" if key else f"matched to {source}"
    said = _ACTIONS.get(action, action.replace("_", " "))
    fields = changes.get("fields")
    if action == "update" and isinstance(fields, list) and fields:
        return f"{said} " + ", ".join(str(f).replace("_", " ") for f in fields)
    via = changes.get("via")
    if action == "create" and via:
        return f"{said} {via}" if str(via).startswith("by ") else f"{said} from {via}"
    return said


__all__ = ["PAGES", "change_words", "eligibility_words", "record_url"]
