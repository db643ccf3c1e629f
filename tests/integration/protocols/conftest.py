"""A simulator serving one district through 1.1, 1.2 and the ClassLink proxy, and fresh portals."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from rostersync.config import Settings
from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district

TENANT, KEY, SECRET = "springfield", "springfield-key", "springfield-secret-9Zq"
TENANT_ID = "4242"
STUDENTS = 240


@pytest.fixture(scope="session")
def district_data() -> DistrictData:
    return generate_district(students=STUDENTS, seed=11, bad_records=True)


@pytest.fixture
def server(district_data: DistrictData) -> Iterator[SimulatorServer]:
    data = copy.deepcopy(district_data)
    with SimulatorServer([Tenant(TENANT, data, KEY, SECRET)]) as running:
        running.proxy.share(TENANT, tenant_id=TENANT_ID)
        yield running


PortalMaker = Callable[[], Services]


@pytest.fixture
def make_portal(
    fresh_db_url: Callable[[], str], tmp_path: Path, server: SimulatorServer
) -> Iterator[PortalMaker]:
    """Makes Educator Portals, each on its own empty database, closed after the test.

    The vendor's ClassLink proxy settings (its address and partner key) point at the simulator.
    """
    made: list[Services] = []

    def make() -> Services:
        settings = Settings(
            data_dir=tmp_path,
            database_url=fresh_db_url(),
            secret_keys=Fernet.generate_key().decode(),
            log_format="json",
            page_size=100,
            classlink_proxy_url=server.url,
            classlink_partner_key=server.proxy.partner_key,
        )
        portal = Services(settings)
        portal.init_db()
        made.append(portal)
        return portal

    yield make
    for portal in made:
        portal.close()
