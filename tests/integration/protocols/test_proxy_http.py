"""The ClassLink proxy over real HTTP: `/applications`, verbatim ids, bearer rotation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.integration.protocols.conftest import KEY, SECRET, TENANT, TENANT_ID

from rostersync.errors import SourceAuthError
from rostersync.oneroster.proxy import ProxyDirectory
from rostersync.simulator import SimulatorServer, Tenant
from rostersync.sync.rest_sources import proxy_source


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


class TestApplications:
    """A partner key lists the shared districts, paged, with no count headers."""

    def test_rows_have_classlinks_fields_and_no_count_headers(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        response = http.get(
            f"{server.url}/applications",
            headers={"Authorization": f"Bearer {server.proxy.partner_key}"},
        )
        body = response.json()
        assert response.status_code == 200 and body["status"] == 1
        (row,) = body["applications"]
        assert set(row) == {
            "id",
            "tenant_name",
            "tenant_id",
            "application_id",
            "bearer",
            "name",
            "oneroster_application_id",
            "enabled",
            "tenant_status",
        }
        assert (row["tenant_id"], row["enabled"], row["tenant_status"]) == (
            TENANT_ID,
            "true",
            "Active",
        )
        assert "x-total-count" not in response.headers and "link" not in response.headers

    def test_the_directory_pages_until_a_short_page(self, server: SimulatorServer) -> None:
        data = server.tenant(TENANT).data
        for n in range(4):
            server.add_tenant(Tenant(f"district-{n}", data, KEY, SECRET))
            server.proxy.share(f"district-{n}")
        with ProxyDirectory(server.proxy.partner_key, server.url, page_size=2) as directory:
            apps = directory.applications()
        assert len(apps) == 5
        # 2 + 2 + 1: the short third page ends the listing.
        assert directory.requests == 3

    def test_a_wrong_partner_key_names_the_partner_key(self, server: SimulatorServer) -> None:
        with (
            ProxyDirectory("not-our-key", server.url) as directory,
            pytest.raises(SourceAuthError) as caught,
        ):
            directory.applications()
        assert caught.value.credential == "partner key"
        assert "not-our-key" not in str(caught.value)

    def test_a_district_that_does_not_share_is_named_by_tenant_id(
        self, server: SimulatorServer
    ) -> None:
        with pytest.raises(SourceAuthError) as caught:
            proxy_source(server.url, server.proxy.partner_key, "9999")
        assert caught.value.credential == "tenant sharing"
        assert "9999" in str(caught.value)


class TestDistrictData:
    """Data calls put the escaped application id in the path verbatim and follow rotation."""

    def test_the_application_id_is_used_verbatim_and_re_encoding_it_misses(
        self, server: SimulatorServer, http: httpx.Client
    ) -> None:
        app = server.proxy.share(TENANT)
        assert "%" in app.oneroster_application_id
        bearer = {"Authorization": f"Bearer {app.bearer}"}
        verbatim = http.get(
            f"{server.url}/{app.oneroster_application_id}/ims/oneroster/v1p1/orgs", headers=bearer
        )
        twice = app.oneroster_application_id.replace("%", "%25")
        re_encoded = http.get(f"{server.url}/{twice}/ims/oneroster/v1p1/orgs", headers=bearer)
        assert verbatim.status_code == 200 and verbatim.json()["orgs"]
        assert re_encoded.status_code == 404

    def test_a_rotated_bearer_is_picked_up_by_re_reading_applications_once(
        self, server: SimulatorServer
    ) -> None:
        source = proxy_source(server.url, server.proxy.partner_key, TENANT_ID, page_size=50)
        records = source.records()
        next(records)
        listed = server.proxy.application_requests
        server.proxy.rotate_bearer(TENANT)
        rest = list(records)
        assert rest
        assert server.proxy.application_requests == listed + 1
        assert source.stats.retries == 1
        assert source.complete_kinds()

    def test_an_old_bearer_is_refused(self, server: SimulatorServer, http: httpx.Client) -> None:
        app = server.proxy.share(TENANT)
        old = app.bearer
        server.proxy.rotate_bearer(TENANT)
        response = http.get(
            f"{server.url}/{app.oneroster_application_id}/ims/oneroster/v1p1/orgs",
            headers={"Authorization": f"Bearer {old}"},
        )
        assert response.status_code == 401
