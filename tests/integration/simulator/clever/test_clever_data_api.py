"""The Clever simulator's tokens list and Data API over real HTTP: envelope, paging, isolation."""

from __future__ import annotations

import httpx
import pytest

from rostersync.simulator import generate_district
from rostersync.simulator.clever import CleverSimulator

from .conftest import CLIENT_ID, CLIENT_SECRET, Api, _link

KINDS = ("districts", "schools", "terms", "courses", "sections", "users")


def test_token_list_names_each_connected_district_as_owner(
    http: httpx.Client, clever: CleverSimulator, district_id: str
) -> None:
    other = clever.add_district(generate_district(students=20, seed=3, tenant="shelbyville"))
    response = http.get(
        f"{clever.url}/oauth/tokens",
        params={"owner_type": "district"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    tokens = response.json()["data"]
    assert {t["owner"]["id"] for t in tokens} == {district_id, other}
    assert all(t["owner"]["type"] == "district" and len(t["access_token"]) == 40 for t in tokens)
    assert {t["access_token"] for t in tokens} == {clever.token(district_id), clever.token(other)}


@pytest.mark.parametrize("auth", [(CLIENT_ID, "wrong"), ("someone-else", CLIENT_SECRET), None])
def test_token_list_refuses_bad_client_credentials(
    http: httpx.Client, clever: CleverSimulator, district_id: str, auth: tuple[str, str] | None
) -> None:
    response = http.get(f"{clever.url}/oauth/tokens?owner_type=district", auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("limit", [1, 7, 100, 10_000])
def test_paging_walks_every_record_exactly_once(
    api: Api, clever: CleverSimulator, district_id: str, limit: int
) -> None:
    model = clever.district(district_id).model
    for kind in ("users", "sections"):
        walked = api.walk(f"/v3.1/{kind}", limit=limit)
        ids = [r["id"] for r in walked]
        assert len(ids) == len(set(ids))
        assert ids == sorted(ids)
        assert set(ids) == {r["id"] for r in model.collection(kind)}


def test_ending_before_pages_backward_to_the_start(
    api: Api, clever: CleverSimulator, district_id: str
) -> None:
    ids = [r["id"] for r in clever.district(district_id).model.collection("users")]
    body = api.get("/v3.1/users", limit=10, ending_before=ids[25]).json()
    assert [i["data"]["id"] for i in body["data"]] == ids[15:25]
    prev = _link(body, "prev")
    assert prev is not None and f"ending_before={ids[15]}" in prev
    first = api.get("/v3.1/users", limit=10, ending_before=ids[5]).json()
    assert [i["data"]["id"] for i in first["data"]] == ids[:5]
    assert _link(first, "prev") is None


def test_envelope_and_links_have_clever_shape(api: Api) -> None:
    body = api.get("/v3.1/schools", limit=1).json()
    assert set(body) == {"data", "links"}
    item = body["data"][0]
    assert set(item) == {"data", "uri"}
    assert item["uri"] == f"/v3.1/schools/{item['data']['id']}"
    assert len(item["data"]["id"]) == 24 and int(item["data"]["id"], 16) >= 0
    assert body["links"][0] == {"rel": "self", "uri": "/v3.1/schools?limit=1"}
    assert _link(body, "next") == f"/v3.1/schools?limit=1&starting_after={item['data']['id']}"
    one = api.get(item["uri"]).json()
    assert one["data"] == item["data"]
    for kind in KINDS:
        assert api.get(f"/v3.1/{kind}").status_code == 200


def test_a_token_sees_only_its_own_district(
    http: httpx.Client, clever: CleverSimulator, api: Api, district_id: str
) -> None:
    other = clever.add_district(generate_district(students=20, seed=3, tenant="shelbyville"))
    foreign = clever.district(other).model.collection("users")[0]["id"]
    assert api.get(f"/v3.1/users/{foreign}").status_code == 404
    assert api.get(f"/v3.1/districts/{other}").status_code == 404
    districts = api.get("/v3.1/districts").json()["data"]
    assert [d["data"]["id"] for d in districts] == [district_id]
    users = {r["id"] for r in api.walk("/v3.1/users", limit=1000)}
    assert foreign not in users
    assert (
        http.get(f"{clever.url}/v3.1/users", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )


@pytest.mark.parametrize("role", ["student", "teacher", "staff", "district_admin", "contact"])
def test_role_filter_returns_only_that_role_and_keeps_it_in_next_links(api: Api, role: str) -> None:
    walked = api.walk("/v3.1/users", role=role, limit=5)
    assert walked
    assert all(role in user["roles"] for user in walked)
    every = api.walk("/v3.1/users", limit=10_000)
    assert len(walked) == sum(1 for u in every if role in u["roles"])


def test_bad_queries_are_refused_and_too_big_a_limit_is_413(api: Api) -> None:
    assert api.get("/v3.1/users", limit="zero").status_code == 400
    assert api.get("/v3.1/users", role="principal").status_code == 400
    assert api.get("/v3.1/users", starting_after="a", ending_before="b").status_code == 400
    assert api.get("/v3.1/users", limit=10_001).status_code == 413
    assert api.get("/v3.1/users", limit=10_000).status_code == 200


def test_revoked_token_answers_401_and_leaves_the_list(
    http: httpx.Client, clever: CleverSimulator, api: Api, district_id: str
) -> None:
    clever.revoke(district_id)
    assert api.get("/v3.1/users").status_code == 401
    listed = http.get(
        f"{clever.url}/oauth/tokens?owner_type=district", auth=(CLIENT_ID, CLIENT_SECRET)
    ).json()
    assert listed["data"] == []
    api.token = clever.reconnect(district_id)
    assert api.get("/v3.1/users").status_code == 200
