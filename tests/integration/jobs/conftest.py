"""The scheduling world of the job tests: a Utah district served by the simulator, onboarded
to sync daily at 05:00 Mountain time.

`serve` starts the simulator for one tenant; `onboard_daily` onboards that tenant under its
slug (the district's names and its data manager follow from the slug).
"""

from __future__ import annotations

from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.store.districts import DistrictRecord


def serve(slug: str, *, seed: int, key: str, secret: str) -> SimulatorServer:
    """A simulator (use it as a context manager) serving 15 generated students as `slug`."""
    data = generate_district(students=15, seed=seed)
    return SimulatorServer([Tenant(name=slug, data=data, key=key, secret=secret)])


def onboard_daily(
    portal: Services, simulator: SimulatorServer, slug: str, *, key: str, secret: str
) -> DistrictRecord:
    """Onboard the simulator's `slug` (e.g. `provo`: Provo School District, Provo, UT) to sync
    daily at 05:00 America/Denver."""
    town = slug.title()
    return portal.districts.add(
        Questionnaire(
            slug=slug,
            name=f"{town} School District",
            display_name=f"{town} SD – {town}, UT",
            city=town,
            state="UT",
            source_url=simulator.base_url(slug),
            key=key,
            secret=secret,
            data_manager_emails=[f"dm@{slug}.example"],
            sync_frequency="daily",
            sync_time="05:00",
            time_zone="America/Denver",
        )
    )
