"""A sign-in world with both providers on loopback: ClassLink's simulators, Clever's, the portal.

    Springfield USD   ClassLink (tenant 1001), live; one of its students is rostered under the
                      very sourcedId that Capital City's first student has as Clever user id
    Capital City SD   Clever, live
    Ogdenville SD     Clever, live
    Brockway SD       Clever, onboarded and synced but not live

The Clever districts are onboarded the production way (kind "clever", the Clever district id as
the key) and synced from the Clever simulator through the portal's own provider; the portal's
Clever settings point at the simulator, whose one registered redirect URI is the portal's Clever
callback. `clock_offset` moves the simulator's clock (tokens it signs then look old).
"""

from __future__ import annotations

import copy
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update
from tests.integration import sandboxes

from rostersync.demo.sandbox import Sandbox
from rostersync.services import Questionnaire, Services
from rostersync.signin.clever_portal import CLEVER_CALLBACK_PATH
from rostersync.simulator import DistrictData, generate_district
from rostersync.simulator.clever import CleverSimulator, object_id, user_id_for
from rostersync.store.tables import districts

APP_ID, APP_SECRET = "rostersync-clever-app", "clever-app-secret-Q4w"
CLEVER = {
    # slug: (display name, seed, live)
    "capital": ("Capital City SD – Capital City, IL", 6, True),
    "ogdenville": ("Ogdenville SD – Ogdenville, IL", 5, True),
    "brockway": ("Brockway SD – Brockway, IL", 8, False),
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _students(data: DistrictData) -> list[dict[str, Any]]:
    return [u for u in data.users if u.get("role") == "student" and u.get("status") == "active"]


@dataclass
class CleverWorld:
    """Both providers' simulators and the portal, running."""

    sandbox: Sandbox
    clever: CleverSimulator
    clever_ids: dict[str, str]  # slug → Clever district id
    district_ids: dict[str, str]  # slug → our district id, both providers
    data: dict[str, DistrictData]
    clock_offset: list[float] = field(default_factory=lambda: [0.0])

    @property
    def url(self) -> str:
        return self.sandbox.url

    @property
    def service(self) -> Services:
        assert self.sandbox.service is not None
        return self.sandbox.service

    def student(self, slug: str, index: int = 0) -> tuple[str, dict[str, Any]]:
        """(Clever user id, OneRoster record) of a Clever district's student, in roster order."""
        record = _students(self.data[slug])[index]
        return user_id_for(self.clever_ids[slug], record["sourcedId"]), record

    def stop(self) -> None:
        self.sandbox.stop()
        self.clever.stop()


def start_world(
    tmp: Path, *, database_url: str | None = None, oidc: bool = True, students: int = 12
) -> CleverWorld:
    """Start the simulators and the portal (its database at `database_url`, else a SQLite file
    under `tmp`), onboard and sync every district; call `stop`."""
    port = _free_port()
    portal_url = f"http://127.0.0.1:{port}"
    offset = [0.0]
    clever = CleverSimulator(
        client_id=APP_ID,
        client_secret=APP_SECRET,
        redirect_uris=[portal_url + CLEVER_CALLBACK_PATH],
        oidc=oidc,
        clock=lambda: time.time() + offset[0],
    )
    clever.start()
    data = {
        slug: generate_district(students=students, seed=seed, tenant=slug)
        for slug, (_, seed, _) in CLEVER.items()
    }
    # Springfield rosters a student under the Clever user id of Capital City's first student.
    springfield = sandboxes.springfield(students)
    capital_first = _students(data["capital"])[0]["sourcedId"]
    twin = copy.deepcopy(_students(springfield.data)[0])
    twin["sourcedId"] = user_id_for(object_id("district", "capital"), capital_first)
    twin["username"] = twin["email"] = f"twin.{twin.get('username', 'x')}@springfield.example"
    springfield.data.users.append(twin)
    settings = sandboxes.portal_settings(
        tmp,
        database_url,
        sso_timeout_seconds=2.0,
        clever_client_id=APP_ID,
        clever_client_secret=APP_SECRET,
        clever_api_url=clever.url,
        clever_oauth_url=clever.url,
    )
    sandbox = Sandbox(settings, [springfield], port=port)
    try:
        sandbox.start()
        service = sandbox.service
        assert service is not None
        clever_ids: dict[str, str] = {}
        for slug, (display_name, _, live) in CLEVER.items():
            clever_ids[slug] = clever.add_district(copy.deepcopy(data[slug]))
            record = service.districts.add(
                Questionnaire(
                    slug=slug,
                    name=display_name.split(" – ")[0],
                    display_name=display_name,
                    city=slug.title(),
                    state="IL",
                    source_kind="clever",
                    source_url="",
                    key=clever_ids[slug],
                    secret="",
                    eligibility_source="portal",
                )
            )
            sandbox.district_ids[slug] = record.id
            report = service.runs.sync(slug, trigger="sandbox")
            assert report.status == "succeeded", report.error
            if live:
                with service.engine.begin() as conn:
                    conn.execute(
                        update(districts).where(districts.c.id == record.id).values(status="live")
                    )
    except BaseException:
        sandbox.stop()
        clever.stop()
        raise
    return CleverWorld(
        sandbox=sandbox,
        clever=clever,
        clever_ids=clever_ids,
        district_ids=sandbox.district_ids,
        data={**data, "springfield": springfield.data},
        clock_offset=offset,
    )
