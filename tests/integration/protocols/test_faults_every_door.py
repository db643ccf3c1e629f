"""Faults and ClassLink's quirks reach the 1.2 and proxy doors too, and the client copes there
as it does on 1.1: retried faults end in the same portal, fatal ones write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from tests.integration.protocols.conftest import KEY, SECRET, TENANT, TENANT_ID, PortalMaker
from tests.integration.protocols.test_equivalence import (
    contents,
    onboard,
    sync_through_build_source,
)

from rostersync.services import Services
from rostersync.simulator import SimulatorServer
from rostersync.simulator import faults as f
from rostersync.store import tables

DOORS = ("oneroster-1.2", "classlink-proxy")


def door(server: SimulatorServer, kind: str) -> tuple[str, str, str]:
    if kind == "oneroster-1.2":
        return server.v1p2_base_url(TENANT), KEY, SECRET
    # The proxy's address and partner key are the vendor's settings; the district gives its
    # tenant id.
    return "", TENANT_ID, ""


def fresh(make_portal: PortalMaker, server: SimulatorServer, kind: str) -> Services:
    portal = make_portal()
    url, key, secret = door(server, kind)
    onboard(portal, source_kind=kind, url=url, key=key, secret=secret)
    return portal


def students(portal: Services) -> int:
    with portal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(tables.students)).scalar_one()


@pytest.mark.parametrize("kind", DOORS)
class TestEveryDoor:
    def test_retried_faults_end_in_the_portal_a_clean_pull_gives(
        self, server: SimulatorServer, make_portal: PortalMaker, kind: str
    ) -> None:
        clean = fresh(make_portal, server, kind)
        assert sync_through_build_source(clean).status == "succeeded"
        plan = server.set_faults(
            TENANT,
            f.throttle(times=2, retry_after=0, collection="users"),
            f.server_error(503, times=1, collection="enrollments", nth=2),
        )
        faulty = fresh(make_portal, server, kind)
        report = sync_through_build_source(faulty)
        assert report.status == "succeeded", report.error
        assert plan.fired == {"429-burst": 2, "5xx": 1}
        assert report.retries == 3
        assert contents(faulty) == contents(clean)

    def test_a_fault_that_outlasts_the_retries_fails_the_run_and_writes_nothing(
        self, server: SimulatorServer, make_portal: PortalMaker, kind: str
    ) -> None:
        plan = server.set_faults(TENANT, f.server_error(503, times=1000, collection="enrollments"))
        portal = fresh(make_portal, server, kind)
        report = sync_through_build_source(portal)
        assert report.status == "failed"
        assert plan.fired["5xx"] > 1
        assert students(portal) == 0

    def test_the_portal_is_the_same_with_classlink_quirks_on(
        self, server: SimulatorServer, make_portal: PortalMaker, kind: str
    ) -> None:
        plain = fresh(make_portal, server, kind)
        assert sync_through_build_source(plain).status == "succeeded"
        server.tenant(TENANT).quirks = True
        quirky = fresh(make_portal, server, kind)
        report = sync_through_build_source(quirky)
        assert report.status == "succeeded", report.error
        assert contents(quirky) == contents(plain)


def test_an_expired_bearer_token_on_1p2_is_refreshed_once_and_the_pull_goes_on(
    server: SimulatorServer, make_portal: PortalMaker
) -> None:
    plan = server.set_faults(TENANT, f.expired_token(collection="users", nth=2))
    portal = fresh(make_portal, server, "oneroster-1.2")
    report = sync_through_build_source(portal)
    assert report.status == "succeeded", report.error
    assert plan.fired["expired-token"] == 1
    assert students(portal) > 0
