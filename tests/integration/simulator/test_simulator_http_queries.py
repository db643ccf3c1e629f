"""Over real HTTP: filter, sort/orderBy, fields, and the 1.1 statusInfoSet errors."""

from __future__ import annotations

import pytest

from rostersync.oneroster import oauth1
from rostersync.simulator import DistrictData


def ids(records: list[dict[str, object]]) -> list[object]:
    return [r["sourcedId"] for r in records]


class TestFilter:
    """The 1.1 filter grammar, signed and sent with RFC 5849 encoding."""

    def test_date_last_modified_after_a_watermark(self, api, district: DistrictData) -> None:
        watermark = sorted(u["dateLastModified"] for u in district.users)[len(district.users) // 2]
        response = api.get(
            "/users", [("filter", f"dateLastModified>'{watermark}'"), ("limit", "10000")]
        )
        assert response.status_code == 200
        expected = [u for u in district.users if u["dateLastModified"] > watermark]
        assert 0 < len(expected) < len(district.users)
        assert response.json()["users"] == expected

    def test_role_teacher_or_role_student(self, api, district: DistrictData) -> None:
        response = api.get(
            "/users", [("filter", "role='teacher' OR role='student'"), ("limit", "10000")]
        )
        users = response.json()["users"]
        assert {u["role"] for u in users} == {"teacher", "student"}
        assert len(users) == sum(1 for u in district.users if u["role"] in ("teacher", "student"))

    def test_value_with_a_space(self, api, district: DistrictData) -> None:
        response = api.get("/users", [("filter", "familyName='De La Cruz'"), ("limit", "10000")])
        expected = [u for u in district.users if u["familyName"] == "De La Cruz"]
        assert expected
        assert response.json()["users"] == expected

    def test_value_with_an_apostrophe_written_twice(self, api, district: DistrictData) -> None:
        response = api.get("/users", [("filter", "familyName='O''Brien'"), ("limit", "10000")])
        expected = [u for u in district.users if u["familyName"] == "O'Brien"]
        assert expected
        assert ids(response.json()["users"]) == ids(expected)

    def test_non_ascii_value(self, api, district: DistrictData) -> None:
        response = api.get("/users", [("filter", "familyName='Nguyễn'"), ("limit", "10000")])
        expected = [u for u in district.users if u["familyName"] == "Nguyễn"]
        assert expected
        assert ids(response.json()["users"]) == ids(expected)

    def test_plus_in_the_query_is_a_space_for_signature_and_filter(
        self, api, district: DistrictData
    ) -> None:
        """Form encoding (`+`) is legal on the wire; both sides must read it as a space."""
        url = f"{api.base}/users?filter=familyName%3D%27De+La+Cruz%27&limit=10000"
        response = api.get_url(url)
        assert response.status_code == 200
        assert len(response.json()["users"]) == sum(
            1 for u in district.users if u["familyName"] == "De La Cruz"
        )

    def test_and_with_a_list_field(self, api, district: DistrictData) -> None:
        response = api.get(
            "/users", [("filter", "role='student' AND grades='05'"), ("limit", "10000")]
        )
        expected = [u for u in district.users if u["role"] == "student" and "05" in u["grades"]]
        assert expected
        assert ids(response.json()["users"]) == ids(expected)

    def test_reference_path_finds_a_class_roster(self, api, district: DistrictData) -> None:
        response = api.get(
            "/enrollments", [("filter", "class.sourcedId='cls-000001'"), ("limit", "10000")]
        )
        expected = [e for e in district.enrollments if e["class"]["sourcedId"] == "cls-000001"]
        assert len(expected) > 1
        assert ids(response.json()["enrollments"]) == ids(expected)

    @pytest.mark.parametrize(
        "text",
        [
            "role='a' OR role='b' OR role='c'",
            "role=teacher",
            "role='teacher' and grades='05'",
        ],
    )
    def test_malformed_filter_is_400_invalid_filter_field(self, api, text: str) -> None:
        response = api.get("/users", [("filter", text)])
        assert response.status_code == 400
        code, description = api.status(response)
        assert code == "invalid_filter_field"
        assert description.startswith("malformed filter")

    def test_unknown_filter_field_is_400_and_named(self, api) -> None:
        response = api.get("/users", [("filter", "shoeSize='9'")])
        assert response.status_code == 400
        assert api.status(response) == ("invalid_filter_field", "unknown filter field 'shoeSize'")


class TestSortAndFields:
    """sort/orderBy order the whole collection before paging; fields trims properties."""

    def test_sort_descending_over_pages(self, api, district: DistrictData) -> None:
        params = [("sort", "familyName"), ("orderBy", "desc"), ("limit", "40")]
        first = api.get("/users", params).json()["users"]
        second = api.get("/users", [*params, ("offset", "40")]).json()["users"]
        expected = sorted(district.users, key=lambda u: u["familyName"], reverse=True)
        assert ids(first + second) == ids(expected[:80])

    def test_unknown_sort_field_is_ignored(self, api, district: DistrictData) -> None:
        response = api.get("/users", [("sort", "shoeSize"), ("limit", "30")])
        assert response.status_code == 200
        assert ids(response.json()["users"]) == ids(district.users[:30])

    def test_fields_restricts_returned_properties(self, api) -> None:
        response = api.get("/users", [("fields", "sourcedId,email"), ("limit", "5")])
        assert all(set(u) == {"sourcedId", "email"} for u in response.json()["users"])

    def test_fields_on_a_singleton(self, api) -> None:
        response = api.get("/users/stu-000001", [("fields", "givenName")])
        assert set(response.json()["user"]) == {"givenName"}


def warning(body: dict[str, object]) -> tuple[str, str, str, str]:
    """codeMajor, severity, codeMinor and description of the one status entry of a 1.1 body."""
    (info,) = body["statusInfoSet"]  # type: ignore[misc]
    field = info["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    return (
        info["imsx_codeMajor"],
        info["imsx_severity"],
        field["imsx_codeMinorFieldValue"],
        info["imsx_description"],
    )


class TestUnknownSelectionFields:
    """1.1: a field the resource does not have is ignored, the answer says so in a warning
    (success, warning, `invalid_selection_field`, naming the field), and with no known field
    left the whole record is returned."""

    def test_only_unknown_fields_give_whole_records_and_a_warning(
        self, api, district: DistrictData
    ) -> None:
        response = api.get("/users", [("fields", "shoeSize"), ("limit", "5")])
        assert response.status_code == 200
        body = response.json()
        assert body["users"] == district.users[:5]
        major, severity, minor, description = warning(body)
        assert (major, severity, minor) == ("success", "warning", "invalid_selection_field")
        assert "shoeSize" in description

    def test_unknown_fields_beside_known_ones_are_ignored_with_a_warning(self, api) -> None:
        response = api.get("/users", [("fields", "sourcedId,shoeSize,hatSize"), ("limit", "5")])
        body = response.json()
        assert all(set(u) == {"sourcedId"} for u in body["users"])
        description = warning(body)[3]
        assert "shoeSize" in description and "hatSize" in description

    def test_a_singleton_warns_too(self, api, district: DistrictData) -> None:
        body = api.get("/users/stu-000001", [("fields", "shoeSize")]).json()
        assert body["user"] == next(u for u in district.users if u["sourcedId"] == "stu-000001")
        assert warning(body)[2] == "invalid_selection_field"

    def test_a_relationship_warns_too(self, api, district: DistrictData) -> None:
        klass = district.classes[0]["sourcedId"]
        body = api.get(f"/classes/{klass}/students", [("fields", "givenName,shoeSize")]).json()
        assert body["users"] and all(set(u) == {"givenName"} for u in body["users"])
        assert warning(body)[2] == "invalid_selection_field"

    def test_known_fields_answer_without_any_status(self, api) -> None:
        body = api.get("/users", [("fields", "sourcedId,email"), ("limit", "5")]).json()
        assert list(body) == ["users"]


class TestUnknownSortField:
    """1.1: a sort field the resource does not have leaves the default order, with a warning
    (success, warning, `invalid_sort_field`, naming the field)."""

    def test_unknown_sort_field_warns(self, api, district: DistrictData) -> None:
        body = api.get("/users", [("sort", "shoeSize"), ("limit", "30")]).json()
        assert ids(body["users"]) == ids(district.users[:30])
        major, severity, minor, description = warning(body)
        assert (major, severity, minor) == ("success", "warning", "invalid_sort_field")
        assert "shoeSize" in description

    def test_unknown_sort_and_selection_fields_are_both_reported(self, api) -> None:
        body = api.get("/users", [("sort", "shoeSize"), ("fields", "hatSize")]).json()
        minors = [
            info["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
            for info in body["statusInfoSet"]
        ]
        assert sorted(minors) == ["invalid_selection_field", "invalid_sort_field"]

    def test_a_known_sort_field_answers_without_any_status(self, api) -> None:
        body = api.get("/users", [("sort", "familyName"), ("limit", "5")]).json()
        assert list(body) == ["users"]


class TestNotFound:
    """Unknown objects and paths answer 404 with the 1.1 statusInfoSet body."""

    def test_unknown_singleton_is_unknownobject(self, api) -> None:
        response = api.get("/users/nobody-here")
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == {
            "statusInfoSet": [
                {
                    "imsx_codeMajor": "failure",
                    "imsx_severity": "error",
                    "imsx_CodeMinor": {
                        "imsx_codeMinorField": [
                            {
                                "imsx_codeMinorFieldName": "TargetEndSystem",
                                "imsx_codeMinorFieldValue": "unknownobject",
                            }
                        ]
                    },
                    "imsx_description": "no user with sourcedId 'nobody-here'",
                }
            ]
        }

    def test_record_outside_a_subset_endpoint_is_unknownobject(
        self, api, district: DistrictData
    ) -> None:
        teacher = next(u for u in district.users if u["role"] == "teacher")
        response = api.get(f"/students/{teacher['sourcedId']}")
        assert response.status_code == 404
        assert api.status(response)[0] == "unknownobject"

    @pytest.mark.parametrize("path", ["/demographics", "/users/stu-000001/orgs", "/nothing"])
    def test_unknown_path_is_unknownobject(self, api, path: str) -> None:
        response = api.get(path)
        assert response.status_code == 404
        assert api.status(response) == ("unknownobject", "unknown OneRoster endpoint")

    def test_path_outside_any_tenant_is_unknownobject(self, api, server, http) -> None:
        response = http.get(f"{server.url}/elsewhere/ims/oneroster/v1p1/users")
        assert response.status_code == 404
        assert api.status(response)[0] == "unknownobject"

    def test_non_get_methods_are_refused(self, api, http) -> None:
        url = api.url("/users")
        signed = oauth1.authorization_header(
            "POST",
            url,
            consumer_key=api.key,
            consumer_secret=api.secret,
            timestamp=int(api.clock()),
        )
        response = http.post(url, headers={"Authorization": signed}, content=b"{}")
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET"
