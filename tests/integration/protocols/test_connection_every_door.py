"""Test connection through every pulling provider names the host it reached.

Each door is one provider (`rostersync.providers`): the REST doors report the district's source
host, the ClassLink proxy the vendor's proxy host (the district gives no URL of its own).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from tests.integration.protocols.conftest import KEY, SECRET, TENANT, TENANT_ID, PortalMaker
from tests.integration.protocols.test_equivalence import onboard

from rostersync.simulator import SimulatorServer


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
