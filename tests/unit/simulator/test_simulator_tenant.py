"""A tenant's cached views and sourcedId lookups follow its data."""

from __future__ import annotations

import pytest

from rostersync.simulator import Tenant, generate_district
from rostersync.simulator.endpoints import ENDPOINTS
from rostersync.simulator.query import Selection, parse_selection

USERS, STUDENTS, SCHOOLS = ENDPOINTS["users"], ENDPOINTS["students"], ENDPOINTS["schools"]
BY_ID = Selection(sort="sourcedId")


@pytest.fixture
def tenant() -> Tenant:
    return Tenant("acme", generate_district(students=40, seed=2), "key", "s3cr3t-value")


class TestViews:
    """Views are computed at offset 0, reused for later pages, and dropped when data changes."""

    def test_subset_endpoint_serves_only_its_records(self, tenant: Tenant) -> None:
        assert {u["role"] for u in tenant.view(STUDENTS, Selection(), fresh=True)} == {"student"}

    def test_later_pages_reuse_the_view_even_after_in_place_edits(self, tenant: Tenant) -> None:
        """One walk sees one snapshot."""
        first = tenant.view(USERS, BY_ID, fresh=True)
        tenant.data.users[0]["sourcedId"] = "zzz"
        assert tenant.view(USERS, BY_ID, fresh=False) is first

    def test_offset_zero_recomputes(self, tenant: Tenant) -> None:
        tenant.view(USERS, BY_ID, fresh=True)
        tenant.data.users[0]["sourcedId"] = "zzz"
        assert tenant.view(USERS, BY_ID, fresh=True)[-1]["sourcedId"] == "zzz"

    def test_assigning_data_drops_cached_views(self, tenant: Tenant) -> None:
        tenant.view(USERS, BY_ID, fresh=True)
        tenant.data = generate_district(students=10, seed=3)
        assert len(tenant.view(USERS, BY_ID, fresh=False)) == len(tenant.data.users)

    def test_appending_records_drops_cached_views(self, tenant: Tenant) -> None:
        before = len(tenant.view(USERS, BY_ID, fresh=True))
        tenant.data.users.append({**tenant.data.users[0], "sourcedId": "new"})
        assert len(tenant.view(USERS, BY_ID, fresh=False)) == before + 1

    def test_invalidate_drops_cached_views(self, tenant: Tenant) -> None:
        tenant.view(USERS, BY_ID, fresh=True)
        tenant.data.users[0]["sourcedId"] = "zzz"
        tenant.invalidate()
        assert tenant.view(USERS, BY_ID, fresh=False)[-1]["sourcedId"] == "zzz"

    def test_filtered_views_are_cached_separately(self, tenant: Tenant) -> None:
        teachers = parse_selection({"filter": "role='teacher'"}, USERS.fields)
        assert {u["role"] for u in tenant.view(USERS, teachers, fresh=True)} == {"teacher"}
        assert len(tenant.view(USERS, BY_ID, fresh=False)) == len(tenant.data.users)


class TestFind:
    """Singletons are found by sourcedId, only on endpoints that serve them."""

    def test_finds_a_record_by_sourced_id(self, tenant: Tenant) -> None:
        assert (
            tenant.find(USERS, "stu-000001")
            is tenant.data.users[
                next(i for i, u in enumerate(tenant.data.users) if u["sourcedId"] == "stu-000001")
            ]
        )

    def test_subset_endpoint_does_not_find_records_outside_it(self, tenant: Tenant) -> None:
        assert tenant.find(SCHOOLS, "org-1") is None
        assert tenant.find(ENDPOINTS["orgs"], "org-1") is not None

    def test_sees_records_replaced_in_place(self, tenant: Tenant) -> None:
        assert tenant.find(USERS, "stu-000001") is not None
        tenant.data.users[5] = {**tenant.data.users[5], "sourcedId": "fresh"}
        assert tenant.find(USERS, "fresh") is tenant.data.users[5]

    def test_unknown_id_is_none(self, tenant: Tenant) -> None:
        assert tenant.find(USERS, "nobody") is None


class TestIdentity:
    """Names are path-safe and the secret stays out of reprs."""

    @pytest.mark.parametrize("name", ["", "a/b", "a b", "-lead", "x?y"])
    def test_unsafe_names_are_refused(self, name: str) -> None:
        with pytest.raises(ValueError, match="tenant name"):
            Tenant(name, generate_district(students=0, seed=1), "k", "s")

    def test_repr_hides_the_secret(self, tenant: Tenant) -> None:
        assert "s3cr3t-value" not in repr(tenant)
