"""ClassLink quirks mode reshapes what is served, never the tenant's data."""

from __future__ import annotations

import copy
import json

from rostersync.oneroster import oauth1
from rostersync.simulator import generate_district
from rostersync.simulator.quirks import QUIRK_HOST, dress, with_odd_sourced_ids
from rostersync.simulator.router import Router
from rostersync.simulator.tenant import Tenant


def served(tenant: Tenant, path: str) -> tuple[dict[str, str], dict[str, object]]:
    """Headers and body of one GET, answered by the router without a socket or signature check."""
    router = Router(clock=lambda: 1_800_000_000.0)
    router.add(tenant)
    target = f"/{tenant.name}/ims/oneroster/v1p1/{path}"
    signed = oauth1.authorization_header(
        "GET", f"http://h{target}", consumer_key="k", consumer_secret="s", timestamp=1_800_000_000
    )
    response = router.handle("GET", target, "h", signed)
    assert response.status == 200, response.body
    return dict(response.headers), json.loads(response.payload())


class TestQuirkyAnswers:
    """With quirks on, the wire looks like ClassLink's; with them off, like the spec."""

    def test_headers_are_lower_case_counts_without_a_link(self) -> None:
        data = generate_district(students=20, seed=3)
        headers, _ = served(Tenant("t", data, "k", "s", quirks=True), "users?limit=5")
        assert headers == {"x-count": "5", "x-total-count": str(len(data.users))}
        plain, _ = served(Tenant("t", data, "k", "s"), "users?limit=5")
        assert "Link" in plain and "X-Total-Count" in plain

    def test_records_carry_json_booleans_roles_foreign_hrefs_and_empty_strings(self) -> None:
        data = generate_district(students=20, seed=3)
        _, body = served(Tenant("t", data, "k", "s", quirks=True), "users?limit=100")
        users = body["users"]
        assert isinstance(users, list)
        assert {type(u["enabledUser"]) for u in users} == {str, bool}
        assert all(u["roles"][0]["role"] == u["role"] for u in users if u["orgs"])
        assert all(u["orgs"][0]["href"].startswith(QUIRK_HOST) for u in users if u["orgs"])
        assert all(u["sms"] == "" and u["password"] == "" for u in users)
        _, classes = served(Tenant("t", data, "k", "s", quirks=True), "classes")
        assert all(c["periods"] == [] for c in classes["classes"])  # type: ignore[union-attr]

    def test_some_tobedeleted_records_say_inactive_and_the_data_is_untouched(self) -> None:
        records = [
            {"sourcedId": f"u{i}", "status": "tobedeleted", "enabledUser": "true"}
            for i in range(20)
        ]
        before = copy.deepcopy(records)
        statuses = {dress(r, "users")["status"] for r in records}
        assert statuses == {"inactive", "tobedeleted"}
        assert records == before


class TestOddSourcedIds:
    """Renamed ids keep every reference resolving and are served escaped in paths."""

    def test_references_follow_the_renamed_ids(self) -> None:
        data = with_odd_sourced_ids(generate_district(students=20, seed=3, bad_records=True))
        orgs = {o["sourcedId"] for o in data.orgs}
        users = {u["sourcedId"] for u in data.users}
        assert "7" in orgs and any("/" in u for u in users) and any(" " in u for u in users)
        assert "FY" in {s["sourcedId"] for s in data.academicSessions}
        classes = {c["sourcedId"] for c in data.classes}
        assert all(c.startswith("5678_T5678-") for c in classes)
        broken = {p.sourced_id for p in data.planted if p.problem == "unknown_class"}
        for enrollment in data.enrollments:
            if enrollment["sourcedId"] not in broken:
                assert enrollment["class"]["sourcedId"] in classes
                assert enrollment["user"]["sourcedId"] in users
        enrollments = {e["sourcedId"] for e in data.enrollments}
        assert all(p.sourced_id in users | enrollments for p in data.planted)

    def test_an_id_with_a_slash_is_found_when_escaped(self) -> None:
        data = with_odd_sourced_ids(generate_district(students=20, seed=3))
        sid = next(u["sourcedId"] for u in data.users if "/" in u["sourcedId"])
        escaped = sid.replace("/", "%2F").replace(" ", "%20")
        _, body = served(Tenant("t", data, "k", "s", quirks=True), f"users/{escaped}")
        assert body["user"]["sourcedId"] == sid  # type: ignore[index]
