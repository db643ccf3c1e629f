"""One district through three REST doors (1.1, 1.2, the proxy) gives three identical portals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.integration.protocols.conftest import KEY, SECRET, TENANT, TENANT_ID, PortalMaker

from rostersync.providers import build_source
from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer
from rostersync.store import districts as store_districts
from rostersync.store import tables

COMPARED = {
    "orgs": tables.orgs,
    "classes": tables.classes,
    "students": tables.students,
    "educators": tables.educators,
    "enrollments": tables.enrollments,
}


def onboard(portal: Services, *, source_kind: str, url: str, key: str, secret: str) -> None:
    portal.districts.add(
        Questionnaire(
            slug=TENANT,
            name="Springfield Unified School District",
            display_name="Springfield USD – Springfield, IL",
            city="Springfield",
            state="IL",
            source_kind=source_kind,
            source_url=url,
            key=key,
            secret=secret,
            eligibility_source="metadata",
            eligibility_field="eligibility",
        )
    )


def sync_through_build_source(portal: Services) -> Any:
    """What the service will do once it picks the source by kind: decrypt, build, run."""
    with portal.engine.connect() as conn:
        district = store_districts.get_district(conn, TENANT)
        integration = store_districts.get_integration(conn, district.id)
        key, secret = store_districts.get_credentials(conn, portal.box, district.id)
    source = build_source(integration, key, secret, portal.settings)
    return portal.runs.sync(TENANT, source=source)


def contents(portal: Services) -> dict[str, set[tuple[str, str, bool]]]:
    with portal.engine.connect() as conn:
        return {
            name: {
                (r.sourced_id, r.content_hash, r.active)
                for r in conn.execute(
                    select(table.c.sourced_id, table.c.content_hash, table.c.active)
                )
            }
            for name, table in COMPARED.items()
        }


class TestSameDistrictThroughEveryDoor:
    """1.1 REST, 1.2 REST and the ClassLink proxy yield the same portal contents."""

    def test_three_fresh_portals_hold_the_same_records_by_sourced_id_and_content_hash(
        self, server: SimulatorServer, make_portal: PortalMaker
    ) -> None:
        doors = {
            "oneroster-1.1": (server.base_url(TENANT), KEY, SECRET),
            "oneroster-1.2": (server.v1p2_base_url(TENANT), KEY, SECRET),
            # The proxy is reached with the district's tenant id and the vendor's partner key
            # (a vendor setting: see make_portal).
            "classlink-proxy": ("", TENANT_ID, ""),
        }
        seen: dict[str, dict[str, set[tuple[str, str, bool]]]] = {}
        for kind, (url, key, secret) in doors.items():
            portal = make_portal()
            onboard(portal, source_kind=kind, url=url, key=key, secret=secret)
            report = sync_through_build_source(portal)
            assert report.status == "succeeded", (kind, report.error)
            seen[kind] = contents(portal)

        reference = seen["oneroster-1.1"]
        assert all(reference[name] for name in COMPARED), "every table holds records"
        for kind in ("oneroster-1.2", "classlink-proxy"):
            for name in COMPARED:
                assert seen[kind][name] == reference[name], (kind, name)
