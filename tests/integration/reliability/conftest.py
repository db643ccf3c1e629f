"""The crash world shared by the tests that run real `rostersync` processes.

A module opts in by naming its simulator tenant and seed (`TENANT`, `SEED`) and asking for
`world` (a migrated portal with that tenant onboarded, closed and its processes stopped after
the test) or `clean` (what one clean sync of the same roster leaves, once per backend). Modules
that build another world define their own `server` and `world` fixtures, which win over these.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import DatabaseMaker
from tests.integration.reliability.processes import (
    KEY,
    SECRET,
    CrashWorld,
    Snapshot,
    closing,
    make_world,
)

from rostersync.simulator import SimulatorServer, Tenant, generate_district


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[SimulatorServer]:
    """The simulator serving the module's `TENANT`: 25 students generated from its `SEED`."""
    tenant: str = request.module.TENANT
    data = generate_district(students=25, seed=request.module.SEED)
    with SimulatorServer([Tenant(name=tenant, data=data, key=KEY, secret=SECRET)]) as srv:
        yield srv


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    fresh_db_url: DatabaseMaker,
    tmp_path: Path,
    server: SimulatorServer,
) -> Iterator[CrashWorld]:
    tenant: str = request.module.TENANT
    yield from closing(make_world(fresh_db_url(), tmp_path / "portal", server, tenant))


@pytest.fixture(scope="module")
def clean(
    request: pytest.FixtureRequest,
    databases: Any,
    tmp_path_factory: pytest.TempPathFactory,
    server: SimulatorServer,
) -> Snapshot:
    """What one clean sync of the same roster leaves in the portal (once per backend)."""
    tenant: str = request.module.TENANT
    reference = make_world(databases.new(), tmp_path_factory.mktemp("clean"), server, tenant)
    try:
        assert reference.portal.runs.sync(tenant).status == "succeeded"
        return reference.snapshot()
    finally:
        reference.portal.close()
