"""A portal and a simulated district for the workflow tests (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district

KEY, SECRET = "springfield-key", "springfield-secret-9Zq"
STUDENTS = 120


@pytest.fixture(scope="module")
def district_data() -> DistrictData:
    return generate_district(students=STUDENTS, seed=23, bad_records=True)


@pytest.fixture
def server(district_data: DistrictData) -> Iterator[SimulatorServer]:
    data = copy.deepcopy(district_data)
    with SimulatorServer([Tenant(name="springfield", data=data, key=KEY, secret=SECRET)]) as srv:
        yield srv


def onboard(portal: Services, server: SimulatorServer, **kw: Any) -> None:
    answers: dict[str, Any] = {
        "slug": "springfield",
        "name": "Springfield Unified School District",
        "display_name": "Springfield USD – Springfield, IL",
        "city": "Springfield",
        "state": "IL",
        "source_url": server.base_url("springfield"),
        "key": KEY,
        "secret": SECRET,
        "eligibility_source": "metadata",
        "eligibility_field": "eligibility",
    }
    answers.update(kw)
    portal.districts.add(Questionnaire(**answers))


def valid_users(data: DistrictData, role: str = "student") -> list[dict[str, Any]]:
    """Users of `role` that no planted problem touches, in the generator's order."""
    planted = {p.sourced_id for p in data.planted} | {r for p in data.planted for r in p.related}
    return [u for u in data.users if u["role"] == role and u["sourcedId"] not in planted]


def without_users(data: DistrictData, sids: set[str]) -> DistrictData:
    """The same district after these people left: the users and their enrollments are gone."""
    return dataclasses.replace(
        data,
        users=[u for u in data.users if u["sourcedId"] not in sids],
        enrollments=[e for e in data.enrollments if e["user"]["sourcedId"] not in sids],
    )
