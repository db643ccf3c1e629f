"""A portal on loopback with two districts that push OneRoster bundles, per database backend.

Each test gets a fresh database, a push key for both districts, and the portal app served by
uvicorn on a free loopback port; pushed bundles go to a Huey queue in immediate mode (the sync
runs as the bundle is queued, as on a laptop) unless a test hands the service another queue.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.services import PUSH_SOURCE_KIND, Questionnaire, Services
from rostersync.simulator import DistrictData, generate_district
from rostersync.simulator.bundle_writer import write_bundle
from rostersync.web.app import create_app
from rostersync.web.server import PortalServer

# Small enough that a test can go over it cheaply, large enough for the test districts' bundles.
LIMIT = 256 * 1024


@dataclass
class PushWorld:
    """The served portal and the push credentials of its two districts."""

    service: Services
    url: str
    ids: dict[str, str]
    keys: dict[str, tuple[str, str]]

    def client(self, slug: str | None = None) -> httpx.Client:
        """An HTTP client authenticated as `slug`'s push key (none when None)."""
        auth = httpx.BasicAuth(*self.keys[slug]) if slug else None
        return httpx.Client(base_url=self.url, auth=auth, timeout=60)


def push_setup(slug: str) -> Questionnaire:
    return Questionnaire(
        slug=slug,
        name=f"{slug.title()} School District",
        display_name=f"{slug.title()} SD – {slug.title()}, UT",
        city=slug.title(),
        state="UT",
        source_kind=PUSH_SOURCE_KIND,
        data_manager_emails=[f"dm@{slug}.example"],
        time_zone="America/Denver",
    )


def bundle_of(data: DistrictData, **kw: str) -> bytes:
    buf = io.BytesIO()
    write_bundle(data, buf, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def ogden_data() -> DistrictData:
    return generate_district(students=40, seed=21, tenant="ogden")


@pytest.fixture(scope="module")
def ogden_bundle(ogden_data: DistrictData) -> bytes:
    data = bundle_of(ogden_data)
    assert len(data) < LIMIT
    return data


@pytest.fixture
def push_settings(fresh_db_url: Callable[[], str], tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=fresh_db_url(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        push_max_bundle_bytes=LIMIT,
        stale_after_days=36500,
    )


@pytest.fixture
def world(push_settings: Settings) -> Iterator[PushWorld]:
    service = Services(push_settings)
    service.init_db()
    ids = {slug: service.districts.add(push_setup(slug)).id for slug in ("ogden", "provo")}
    keys = {slug: service.push.issue_credentials(slug, "ops@vendor.example") for slug in ids}
    service.push.use_queue(
        JobQueue(
            push_settings,
            huey=make_huey(push_settings, immediate=True),
            service=service,
            periodic=False,
        )
    )
    server = PortalServer()
    server.start(create_app(service))
    try:
        yield PushWorld(service=service, url=server.url, ids=ids, keys=keys)
    finally:
        server.stop()
        service.close()
