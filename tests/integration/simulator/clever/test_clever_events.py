"""The Clever simulator's Events API: a changed roster becomes created/updated/deleted events."""

from __future__ import annotations

import copy

from rostersync.simulator import DistrictData
from rostersync.simulator.clever import CleverSimulator, user_id_for

from .conftest import Api, _link


def _changed(data: DistrictData) -> tuple[DistrictData, str, str, str]:
    """A copy with one student renamed, one removed and one added; their sourcedIds."""
    new = copy.deepcopy(data)
    pupils = [u for u in new.users if u["role"] == "student"]
    renamed, removed = pupils[0], pupils[1]
    renamed["familyName"] = "Renamed"
    new.users.remove(removed)
    added = {**copy.deepcopy(pupils[2]), "sourcedId": "stu-new-1", "identifier": "S999999"}
    new.users.append(added)
    return new, renamed["sourcedId"], removed["sourcedId"], added["sourcedId"]


def test_replacing_the_data_records_created_updated_and_deleted_events(
    api: Api, clever: CleverSimulator, district_id: str, district_data: DistrictData
) -> None:
    assert api.get("/v3.1/events").json()["data"] == []
    new, renamed, removed, added = _changed(district_data)
    clever.district(district_id).data = new
    events = [item["data"] for item in api.get("/v3.1/events", record_type="users").json()["data"]]
    by_user = {e["data"]["object"]["id"]: e for e in events}
    updated = by_user[user_id_for(district_id, renamed)]
    assert updated["type"] == "users.updated"
    assert updated["data"]["object"]["name"]["last"] == "Renamed"
    assert updated["data"]["previous_attributes"]["name"]["last"] != "Renamed"
    assert by_user[user_id_for(district_id, removed)]["type"] == "users.deleted"
    created = by_user[user_id_for(district_id, added)]
    assert created["type"] == "users.created"
    assert "previous_attributes" not in created["data"]
    # The removed student also left their sections: those are updated too.
    sections = api.get("/v3.1/events", record_type="sections").json()["data"]
    assert sections and all(s["data"]["type"] == "sections.updated" for s in sections)
    # The Data API serves the new roster.
    assert api.get(f"/v3.1/users/{user_id_for(district_id, removed)}").status_code == 404


def test_events_page_forward_from_the_last_one_seen(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    served = clever.district(district_id)
    users = served.model.collection("users")
    for user in users[:5]:
        served.update("users", user["id"], email=f"changed-{user['id']}@example.org")
    first = api.get("/v3.1/events", limit=2).json()
    assert len(first["data"]) == 2
    cursor = first["data"][-1]["data"]["id"]
    assert _link(first, "next") == f"/v3.1/events?limit=2&starting_after={cursor}"
    rest = api.get("/v3.1/events", starting_after=cursor).json()["data"]
    assert [e["data"]["data"]["object"]["id"] for e in rest] == [u["id"] for u in users[2:5]]
    assert rest[0]["data"]["data"]["previous_attributes"] == {"email": users[2]["email"]}
    served.delete("users", users[0]["id"])
    newest = api.get("/v3.1/events", starting_after=rest[-1]["data"]["id"]).json()["data"]
    assert [e["data"]["type"] for e in newest] == ["users.deleted"]
    one = api.get(f"/v3.1/events/{newest[0]['data']['id']}").json()
    assert one["data"] == newest[0]["data"]
    latest = api.get("/v3.1/events", ending_before="last", limit=1).json()["data"]
    assert [e["data"]["id"] for e in latest] == [newest[0]["data"]["id"]]


def test_expired_events_are_gone_and_an_old_cursor_is_refused(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    served = clever.district(district_id)
    user = served.model.collection("users")[0]
    served.update("users", user["id"], email="a@example.org")
    old = api.get("/v3.1/events").json()["data"][0]["data"]["id"]
    assert clever.expire_events(district_id) == 1
    response = api.get("/v3.1/events", starting_after=old)
    assert response.status_code == 404
    assert "no longer available" in response.json()["message"]
    served.update("users", user["id"], email="b@example.org")
    fresh = api.get("/v3.1/events").json()["data"]
    assert [e["data"]["data"]["object"]["email"] for e in fresh] == ["b@example.org"]


def test_record_type_filter_accepts_repeats(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    served = clever.district(district_id)
    served.update("users", served.model.collection("users")[0]["id"], email=None)
    served.update("sections", served.model.collection("sections")[0]["id"], period="9")
    served.update("schools", served.model.collection("schools")[0]["id"], name="Renamed")
    both = api.http.get(
        f"{api.base}/v3.1/events?record_type=users&record_type=sections",
        headers={"Authorization": f"Bearer {api.token}"},
    ).json()["data"]
    assert sorted(e["data"]["type"] for e in both) == ["sections.updated", "users.updated"]
