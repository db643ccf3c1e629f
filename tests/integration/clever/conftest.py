"""A Clever simulator serving one generated district to the vendor's app, and portals reading it.

Every sync here goes the production way: the district's stored integration (`source_kind`
"clever", its Clever district id as the key) is built by the Clever provider from the portal's
settings, whose Clever URLs point at the simulator, through the guarded, budgeted transport.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from rostersync.config import Settings
from rostersync.providers import clever as clever_provider
from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, generate_district
from rostersync.simulator.clever import CleverSimulator
from rostersync.sync.pipeline import SyncReport

SLUG = "springfield"
APP_ID, APP_SECRET = "rostersync-app", "clever-app-secret-7Kp"
STUDENTS = 60
PAGE_SIZE = 25  # several pages per collection


@pytest.fixture(scope="session")
def district_data() -> DistrictData:
    return generate_district(students=STUDENTS, seed=23)


@pytest.fixture
def clever(district_data: DistrictData) -> Iterator[CleverSimulator]:
    with CleverSimulator(client_id=APP_ID, client_secret=APP_SECRET) as running:
        running.add_district(copy.deepcopy(district_data))
        yield running


def district_id(clever: CleverSimulator) -> str:
    """The one district the simulator serves."""
    (only,) = clever.district_ids()
    return only


def settings_for(
    clever: CleverSimulator, directory: Path, database_url: str, **overrides: Any
) -> Settings:
    """A portal's settings with the vendor's Clever app pointing at the simulator."""
    values: dict[str, Any] = {
        "data_dir": directory,
        "database_url": database_url,
        "secret_keys": Fernet.generate_key().decode(),
        "log_format": "json",
        "page_size": PAGE_SIZE,
        "http_timeout_seconds": 2.0,
        "http_max_retries": 3,
        "clever_client_id": APP_ID,
        "clever_client_secret": APP_SECRET,
        "clever_api_url": clever.url,
        "clever_oauth_url": clever.url,
        **overrides,
    }
    return Settings(**values)


def make_portal(settings: Settings) -> Services:
    portal = Services(settings)
    portal.init_db()
    return portal


def onboard(portal: Services, clever_district: str, **answers: Any) -> None:
    """The district onboarded with Clever as its source; eligibility from the `ext` field."""
    setup: dict[str, Any] = {
        "slug": SLUG,
        "name": "Springfield Unified School District",
        "display_name": "Springfield USD – Springfield, IL",
        "city": "Springfield",
        "state": "IL",
        "source_kind": clever_provider.KIND,
        "source_url": "",
        "key": clever_district,
        "secret": "",
        "eligibility_source": "metadata",
        "eligibility_field": "eligibility",
        **answers,
    }
    portal.districts.add(Questionnaire(**setup))


PortalMaker = Callable[..., Services]


@pytest.fixture
def make_clever_portal(tmp_path: Path, clever: CleverSimulator) -> Iterator[PortalMaker]:
    """Makes SQLite portals reading the simulator (settings overridable), closed after the test."""
    made: list[Services] = []

    def make(**overrides: Any) -> Services:
        directory = tmp_path / f"portal{len(made)}"
        directory.mkdir()
        settings = settings_for(clever, directory, f"sqlite:///{directory / 'p.db'}", **overrides)
        portal = make_portal(settings)
        made.append(portal)
        return portal

    yield make
    for portal in made:
        portal.close()


@pytest.fixture
def portal(make_clever_portal: PortalMaker, clever: CleverSimulator) -> Services:
    """A portal with the simulator's district onboarded, not yet synced."""
    made = make_clever_portal()
    onboard(made, district_id(clever))
    return made


def sync(portal: Services) -> SyncReport:
    """A sync as the service runs it: the source built from the stored integration."""
    return portal.runs.sync(SLUG)
