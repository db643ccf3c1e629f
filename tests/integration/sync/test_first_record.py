"""Test connection reads one page: a sync's collections are held back until whole, but reading
the first org of a district costs one request however many orgs it has."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration import springfield

from rostersync.services import Services
from rostersync.simulator import DistrictData, SimulatorServer, generate_district
from rostersync.sync.sources import OneRosterRestSource, first_record

KEY, SECRET = "probe-key", "probe-secret-5Vw"


@pytest.fixture(scope="module")
def district() -> DistrictData:
    return generate_district(students=20, seed=41)


@pytest.fixture
def server(district: DistrictData) -> Iterator[SimulatorServer]:
    with springfield.serve(district, KEY, SECRET) as running:
        yield running


def test_test_connection_sends_one_request(
    portal: Services, server: SimulatorServer, district: DistrictData
) -> None:
    assert len(district.orgs) > 1
    springfield.onboard(portal, server, key=KEY, secret=SECRET)
    said = portal.onboarding.test_source("springfield")
    first = min(district.orgs, key=lambda o: o["sourcedId"])
    assert said.endswith(f"the first organisation is {first['name']}.")
    assert server.request_count("springfield") == 1


def test_a_pull_still_holds_the_collection_back(
    server: SimulatorServer, district: DistrictData
) -> None:
    def source() -> OneRosterRestSource:
        return OneRosterRestSource(server.base_url("springfield"), KEY, SECRET, page_size=1)

    assert first_record(source()) is not None
    assert server.request_count("springfield") == 1
    records = source().records()
    assert next(records).sourced_id == min(o["sourcedId"] for o in district.orgs)
    records.close()  # type: ignore[attr-defined]
    # The first org of a held-back pull is handed on once every org has arrived.
    assert server.request_count("springfield") == 1 + len(district.orgs)
