"""A quirky district's Clever data: what `set_quirks` changes on the wire, and what it keeps."""

from __future__ import annotations

from typing import Any

from rostersync.simulator.clever import CleverSimulator

from .conftest import Api


def test_quirks_leave_out_empty_fields_the_primary_teacher_and_add_unknown_ones(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    tidy_sections, tidy_users = api.walk("/v3.1/sections"), api.walk("/v3.1/users")
    clever.set_quirks(district_id)
    sections, users = api.walk("/v3.1/sections"), api.walk("/v3.1/users")

    assert [s["id"] for s in sections] == [s["id"] for s in tidy_sections]
    assert [u["id"] for u in users] == [u["id"] for u in tidy_users]
    assert any(_has_null(u) for u in tidy_users)
    assert not any(_has_null(u) for u in users)
    taught = [s for s in sections if s.get("teacher")]
    assert taught and all(s["teacher"] not in s["teachers"] for s in taught)
    assert all("legacy_id" in u for u in users)
    teachers = [u["roles"]["teacher"] for u in users if "teacher" in u["roles"]]
    assert teachers and all(t["ext"] == {} and "created" in t for t in teachers)
    # One record, by id, comes the same way.
    one = api.get(f"/v3.1/users/{users[0]['id']}").json()["data"]
    assert one == users[0]

    clever.set_quirks(district_id, on=False)
    assert api.walk("/v3.1/users") == tidy_users


def _has_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _has_null(v) for v in value.values())
    return False
