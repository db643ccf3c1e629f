"""A misbehaving simulator, a portal to sync into, and the portal's contents to compare.

Most fault tests run on SQLite only (how the client survives a fault does not depend on the
database); the "a failed run writes nothing" tests also run on PostgreSQL through `fresh_db_url`.
Timeouts and backoff are shortened through the source, so the whole suite stays fast.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from tests.integration.portal_state import ROSTER_TABLES, Snapshot, snapshot

from rostersync.config import Settings
from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district
from rostersync.store import tables
from rostersync.sync.pipeline import SyncReport
from rostersync.sync.sources import OneRosterRestSource

TENANT, KEY, SECRET = "springfield", "fault-key", "fault-secret-4Qx"
PAGE_SIZE = 40
TIMEOUT = 0.5  # seconds; a `slow` fault of 1 s outlives it, one of 0.2 s does not


def row_counts(portal: Services) -> dict[str, int]:
    """Rows per roster table, plus audit rows and issues: what a write would change."""
    with portal.engine.connect() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (*ROSTER_TABLES, tables.audit_log, tables.validation_issues)
        }
        active = conn.execute(
            select(func.count()).select_from(tables.students).where(tables.students.c.active)
        ).scalar_one()
    return {**counts, "active students": active}


def make_portal(database_url: str, directory: Path) -> Services:
    settings = Settings(
        data_dir=directory,
        database_url=database_url,
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        http_timeout_seconds=TIMEOUT,
        http_max_retries=4,
    )
    portal = Services(settings)
    portal.init_db()
    return portal


def onboard(portal: Services, url: str) -> None:
    portal.districts.add(
        Questionnaire(
            slug=TENANT,
            name="Springfield Unified School District",
            display_name="Springfield USD – Springfield, IL",
            city="Springfield",
            state="IL",
            source_url=url,
            key=KEY,
            secret=SECRET,
            eligibility_source="metadata",
            eligibility_field="eligibility",
        )
    )


def fast_source(server: SimulatorServer, **options: Any) -> OneRosterRestSource:
    """The district's source with test-sized timeout and backoff (retries still happen)."""
    settings: dict[str, Any] = {
        "page_size": PAGE_SIZE,
        "timeout": TIMEOUT,
        "max_retries": 4,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    }
    settings.update(options)
    return OneRosterRestSource(server.base_url(TENANT), KEY, SECRET, **settings)


def sync(portal: Services, server: SimulatorServer, **options: Any) -> SyncReport:
    return portal.runs.sync(TENANT, source=fast_source(server, **options))


@pytest.fixture(scope="session")
def district() -> DistrictData:
    return generate_district(students=60, seed=23, bad_records=True)


@pytest.fixture
def server(district: DistrictData) -> Iterator[SimulatorServer]:
    tenant = Tenant(TENANT, copy.deepcopy(district), KEY, SECRET)
    with SimulatorServer([tenant]) as running:
        yield running


@pytest.fixture
def portal(tmp_path: Path, server: SimulatorServer) -> Iterator[Services]:
    """A SQLite portal with the district onboarded, not yet synced."""
    service = make_portal(f"sqlite:///{tmp_path / 'portal.db'}", tmp_path)
    onboard(service, server.base_url(TENANT))
    yield service
    service.close()


CleanSync = Callable[[DistrictData], Snapshot]


@pytest.fixture(scope="session")
def clean_sync(tmp_path_factory: pytest.TempPathFactory) -> CleanSync:
    """The portal contents a fault-free sync of some data gives (cached per data)."""
    cache: dict[int, tuple[DistrictData, Snapshot]] = {}

    def run(data: DistrictData) -> Snapshot:
        if id(data) in cache:
            return cache[id(data)][1]
        directory = tmp_path_factory.mktemp("clean")
        service = make_portal(f"sqlite:///{directory / f'{secrets.token_hex(4)}.db'}", directory)
        with SimulatorServer([Tenant(TENANT, data, KEY, SECRET)]) as clean_server:
            onboard(service, clean_server.base_url(TENANT))
            report = sync(service, clean_server)
        assert report.status == "succeeded", report.error
        taken = snapshot(service)
        service.close()
        cache[id(data)] = (data, taken)  # the data is kept so its id is not reused
        return taken

    return run
