"""The simulated Springfield district: one simulator tenant and its onboarding.

The tests that sync a generated district over real HTTP (delta, sync, reliability) build the
same world: a `SimulatorServer` serving the tenant `springfield`, onboarded into the test's
portal under that slug. `serve` and `onboard` are that world; each test keeps its own
credentials and data, and passes the onboarding answers it cares about.
"""

from __future__ import annotations

import copy
from typing import Any

from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant

SLUG = "springfield"
# The onboarding answers of a district listed with its city, whose eligibility comes from
# ClassLink's metadata (`onboard(..., **LISTED_WITH_METADATA)`).
LISTED_WITH_METADATA: dict[str, str] = {
    "display_name": "Springfield USD – Springfield, IL",
    "eligibility_source": "metadata",
    "eligibility_field": "eligibility",
}


def serve(data: DistrictData, key: str, secret: str) -> SimulatorServer:
    """A simulator (use it as a context manager) serving a copy of `data` as the tenant
    `springfield`: the test's `data` stays as it was whatever the simulator's tenant is given."""
    return SimulatorServer([Tenant(name=SLUG, data=copy.deepcopy(data), key=key, secret=secret)])


def onboard(
    portal: Services, server: SimulatorServer, *, key: str, secret: str, **answers: Any
) -> None:
    """Onboard the simulator's `springfield` into `portal`; `answers` add to or override the
    district's onboarding answers."""
    setup: dict[str, Any] = {
        "slug": SLUG,
        "name": "Springfield Unified School District",
        "display_name": "Springfield USD",
        "city": "Springfield",
        "state": "IL",
        "source_url": server.base_url(SLUG),
        "key": key,
        "secret": secret,
        **answers,
    }
    portal.districts.add(Questionnaire(**setup))
