"""Test connection through every pulling provider names the host it reached.

Each door is one provider (`rostersync.providers`): the REST doors report the district's source
host, the ClassLink proxy the vendor's proxy host (the district gives no URL of its own), Clever
the vendor's Clever API host and the district it found.
"""

from __future__ import annotations

import copy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.integration.clever import conftest as clever_world
from tests.integration.protocols.conftest import KEY, SECRET, TENANT, TENANT_ID, PortalMaker
from tests.integration.protocols.test_equivalence import onboard

from rostersync.simulator import DistrictData, SimulatorServer
from rostersync.simulator.clever import CleverSimulator


@pytest.mark.parametrize("kind", ["oneroster-1.1", "oneroster-1.2", "classlink-proxy"])
def test_each_door_connects_and_names_the_host_it_reached(
    kind: str, server: SimulatorServer, make_portal: PortalMaker
) -> None:
    doors = {
        "oneroster-1.1": (server.base_url(TENANT), KEY, SECRET),
        "oneroster-1.2": (server.v1p2_base_url(TENANT), KEY, SECRET),
        "classlink-proxy": ("", TENANT_ID, ""),
    }
    url, key, secret = doors[kind]
    portal = make_portal()
    onboard(portal, source_kind=kind, url=url, key=key, secret=secret)
    outcome = portal.onboarding.test_source(TENANT)
    host = urlsplit(server.url).netloc
    assert outcome.startswith(f"Connected to {host}: the credentials work"), outcome


def test_the_clever_door_finds_the_district_among_the_apps_tokens_and_names_it(
    tmp_path: Path, district_data: DistrictData
) -> None:
    """Clever is read with the vendor's app, so its test names Clever's host and the district
    (the REST doors' first organisation, found by its id among the app's district tokens)."""
    with CleverSimulator(
        client_id=clever_world.APP_ID, client_secret=clever_world.APP_SECRET
    ) as clever:
        district_id = clever.add_district(copy.deepcopy(district_data))
        (district,) = clever.district(district_id).model.collection("districts")
        settings = clever_world.settings_for(clever, tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
        portal = clever_world.make_portal(settings)
        try:
            clever_world.onboard(portal, district_id)
            outcome = portal.onboarding.test_source(clever_world.SLUG)
        finally:
            portal.close()
        host = urlsplit(clever.url).netloc
    assert outcome == (
        f"Connected to Clever ({host}): the district {district['name']} shares its roster with "
        "the app."
    )
