"""Over real HTTP: envelopes per endpoint, limit/offset paging, X-Total-Count and Link headers."""

from __future__ import annotations

import re

import httpx
import pytest

from rostersync.simulator import DistrictData

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers["Link"])}


class TestEnvelopes:
    """The envelope names the resource type, never the endpoint."""

    @pytest.mark.parametrize(
        ("path", "envelope"),
        [
            ("/orgs", "orgs"),
            ("/schools", "orgs"),
            ("/academicSessions", "academicSessions"),
            ("/terms", "academicSessions"),
            ("/courses", "courses"),
            ("/classes", "classes"),
            ("/users", "users"),
            ("/students", "users"),
            ("/teachers", "users"),
            ("/enrollments", "enrollments"),
        ],
    )
    def test_collection_envelope(self, api, path: str, envelope: str) -> None:
        response = api.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert list(response.json()) == [envelope]

    @pytest.mark.parametrize(
        ("path", "field", "value"),
        [("/schools", "type", "school"), ("/terms", "type", "term"),
         ("/teachers", "role", "teacher"), ("/students", "role", "student")],
    )  # fmt: skip
    def test_subset_endpoints_return_only_their_subset(
        self, api, district: DistrictData, path: str, field: str, value: str
    ) -> None:
        response = api.get(path, [("limit", "10000")])
        records = next(iter(response.json().values()))
        assert records and {r[field] for r in records} == {value}
        source = district.orgs + district.academicSessions + district.users
        assert len(records) == sum(1 for r in source if r.get(field) == value)

    @pytest.mark.parametrize(
        ("endpoint", "source", "subset", "envelope"),
        [
            ("orgs", "orgs", None, "org"),
            ("schools", "orgs", ("type", "school"), "org"),
            ("academicSessions", "academicSessions", None, "academicSession"),
            ("terms", "academicSessions", ("type", "term"), "academicSession"),
            ("courses", "courses", None, "course"),
            ("classes", "classes", None, "class"),
            ("users", "users", None, "user"),
            ("students", "users", ("role", "student"), "user"),
            ("teachers", "users", ("role", "teacher"), "user"),
            ("enrollments", "enrollments", None, "enrollment"),
        ],
    )
    def test_singleton_envelope(
        self,
        api,
        district: DistrictData,
        endpoint: str,
        source: str,
        subset: tuple[str, str] | None,
        envelope: str,
    ) -> None:
        record = next(
            r for r in district.collection(source) if subset is None or r[subset[0]] == subset[1]
        )
        response = api.get(f"/{endpoint}/{record['sourcedId']}")
        assert response.status_code == 200
        assert response.json() == {envelope: record}

    def test_singleton_sourced_id_is_url_decoded_from_the_path(
        self, api, server, district: DistrictData
    ) -> None:
        odd = {**district.users[3], "sourcedId": "G 33/3?x"}
        server.tenant(api.tenant).data = DistrictData(
            tenant="t", seed=0, users=[*district.users, odd]
        )
        response = api.get("/users/G%2033%2F3%3Fx")
        assert response.status_code == 200
        assert response.json()["user"]["sourcedId"] == "G 33/3?x"


class TestPaging:
    """limit/offset pages, with X-Total-Count and RFC 8288 Link navigation."""

    def test_following_next_collects_every_record_exactly_once(
        self, api, district: DistrictData
    ) -> None:
        url = api.url("/enrollments", [("limit", "997"), ("sort", "sourcedId"), ("orderBy", "asc")])
        seen: list[str] = []
        requests = 0
        while url:
            response = api.get_url(url)
            assert response.status_code == 200
            seen.extend(e["sourcedId"] for e in response.json()["enrollments"])
            url = links(response).get("next", "")
            requests += 1
            assert requests < 100
        assert seen == sorted(e["sourcedId"] for e in district.enrollments)
        assert len(set(seen)) == len(district.enrollments)

    def test_total_count_is_the_size_of_the_whole_collection(
        self, api, district: DistrictData
    ) -> None:
        response = api.get("/users", [("limit", "7")])
        assert response.headers["X-Total-Count"] == str(len(district.users))
        assert len(response.json()["users"]) == 7

    def test_total_count_reflects_the_filter(self, api, district: DistrictData) -> None:
        response = api.get("/users", [("filter", "role='teacher'"), ("limit", "1")])
        teachers = sum(1 for u in district.users if u["role"] == "teacher")
        assert response.headers["X-Total-Count"] == str(teachers)

    def test_default_page_is_100_records_from_offset_0(self, api, district: DistrictData) -> None:
        users = api.get("/users").json()["users"]
        assert [u["sourcedId"] for u in users] == [u["sourcedId"] for u in district.users[:100]]

    def test_offset_skips_records(self, api, district: DistrictData) -> None:
        users = api.get("/users", [("offset", "5"), ("limit", "3")]).json()["users"]
        assert [u["sourcedId"] for u in users] == [u["sourcedId"] for u in district.users[5:8]]

    def test_middle_page_links_first_prev_next_last(self, api, district: DistrictData) -> None:
        total = len(district.users)
        response = api.get("/users", [("limit", "50"), ("offset", "100")])
        found = links(response)
        assert set(found) == {"first", "prev", "next", "last"}
        assert found["first"].endswith("limit=50&offset=0")
        assert found["prev"].endswith("limit=50&offset=50")
        assert found["next"].endswith("limit=50&offset=150")
        assert found["last"].endswith(f"limit=50&offset={(total - 1) // 50 * 50}")

    def test_last_page_has_no_next_and_first_page_no_prev(self, api) -> None:
        first = api.get("/orgs", [("limit", "10000")])
        assert set(links(first)) == {"first", "last"}

    def test_links_keep_filter_sort_order_and_fields(self, api) -> None:
        params = [
            ("filter", "givenName~'a' AND role='student'"),
            ("sort", "familyName"),
            ("orderBy", "desc"),
            ("fields", "sourcedId,familyName"),
            ("limit", "20"),
        ]
        first = api.get("/users", params)
        following = api.get_url(links(first)["next"])
        assert following.status_code == 200
        expected = api.get("/users", [*params, ("offset", "20")])
        assert following.json() == expected.json()
        assert set(following.json()["users"][0]) == {"sourcedId", "familyName"}

    def test_page_past_the_end_is_empty_but_counted(self, api, district: DistrictData) -> None:
        response = api.get("/users", [("offset", "100000")])
        assert response.status_code == 200
        assert response.json() == {"users": []}
        assert response.headers["X-Total-Count"] == str(len(district.users))

    @pytest.mark.parametrize(
        ("name", "value"),
        [("limit", "0"), ("limit", "10001"), ("limit", "abc"), ("offset", "-1")],
    )
    def test_bad_paging_values_are_400_invalid_data(self, api, name: str, value: str) -> None:
        response = api.get("/users", [(name, value)])
        assert response.status_code == 400
        code, text = api.status(response)
        assert code == "invaliddata"
        assert name in text
