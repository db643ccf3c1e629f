"""Over real HTTP: the generated district has grading periods, on 1.1 and 1.2, and our client
reads them.

OneRoster (1.1 information model, 1.2 AcademicSessionDType): a grading period is an
academicSession of type `gradingPeriod`; a term may have many, each belongs to one term, linked
by `parent` (the term) and the term's `children`. `/terms/{id}/gradingPeriods` lists a term's.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import httpx
import pytest
from tests.integration.simulator.conftest import KEY, SECRET, TENANT

from rostersync.oneroster.auth import OAuth1Auth
from rostersync.oneroster.client import OneRosterClient
from rostersync.oneroster.mapping import MAPPERS
from rostersync.oneroster.oauth2 import ROSTER_CORE_SCOPE, ROSTER_SCOPE, OAuth2ClientCredentials
from rostersync.simulator import DistrictData, SimulatorServer


def terms(district: DistrictData) -> list[dict[str, Any]]:
    return [s for s in district.academicSessions if s["type"] == "term"]


def v1p2_headers(server: SimulatorServer, http: httpx.Client) -> dict[str, str]:
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    token = http.post(
        server.token_url(TENANT),
        data={"grant_type": "client_credentials", "scope": f"{ROSTER_CORE_SCOPE} {ROSTER_SCOPE}"},
        headers={"Authorization": f"Basic {basic}"},
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


class TestV1p1:
    """Each term has its grading periods, listed under the term and as a collection."""

    def test_every_term_lists_its_grading_periods(self, api, district: DistrictData) -> None:
        for term in terms(district):
            response = api.get(f"/terms/{term['sourcedId']}/gradingPeriods")
            assert response.status_code == 200
            periods = response.json()["academicSessions"]
            assert len(periods) == 2
            assert {p["type"] for p in periods} == {"gradingPeriod"}
            assert {p["parent"]["sourcedId"] for p in periods} == {term["sourcedId"]}
            children = {c["sourcedId"] for c in term["children"]}
            assert {p["sourcedId"] for p in periods} == children
            for period in periods:
                assert term["startDate"] <= period["startDate"] < period["endDate"]
                assert period["endDate"] <= term["endDate"]
                assert period["schoolYear"] == term["schoolYear"]

    def test_the_grading_periods_collection_and_singleton(self, api, district) -> None:
        response = api.get("/gradingPeriods", [("limit", "100")])
        periods = response.json()["academicSessions"]
        assert len(periods) == int(response.headers["X-Total-Count"]) == 2 * len(terms(district))
        one = api.get(f"/gradingPeriods/{periods[0]['sourcedId']}")
        assert one.json() == {"academicSession": periods[0]}

    def test_terms_still_list_only_terms(self, api, district: DistrictData) -> None:
        listed = api.get("/terms").json()["academicSessions"]
        assert {s["sourcedId"] for s in listed} == {t["sourcedId"] for t in terms(district)}


class TestV1p2:
    """1.2 serves the same grading periods, with references to 1.2 paths."""

    def test_a_terms_grading_periods_in_1_2(
        self, server: SimulatorServer, http: httpx.Client, district: DistrictData
    ) -> None:
        headers = v1p2_headers(server, http)
        term = terms(district)[0]
        url = f"{server.v1p2_base_url(TENANT)}/terms/{term['sourcedId']}/gradingPeriods"
        response = http.get(url, headers=headers)
        assert response.status_code == 200
        periods = response.json()["academicSessions"]
        assert len(periods) == 2
        for period in periods:
            required = {"sourcedId", "status", "dateLastModified", "title", "startDate"}
            assert required | {"endDate", "type", "schoolYear"} <= set(period)
            assert period["type"] == "gradingPeriod"
            assert period["parent"]["sourcedId"] == term["sourcedId"]
            assert "/ims/oneroster/rostering/v1p2/academicSessions/" in period["parent"]["href"]


class TestOurClient:
    """rostersync's own client pulls grading periods and maps them to sessions of their term."""

    @pytest.mark.parametrize("door", ["oneroster-1.1", "oneroster-1.2"])
    def test_grading_periods_map_to_sessions_whose_parent_is_their_term(
        self, server: SimulatorServer, district: DistrictData, door: str
    ) -> None:
        with contextlib.ExitStack() as stack:
            if door == "oneroster-1.1":
                client = OneRosterClient(server.base_url(TENANT), OAuth1Auth(KEY, SECRET))
            else:
                auth = OAuth2ClientCredentials(server.token_url(TENANT), KEY, SECRET)
                stack.enter_context(auth)
                client = OneRosterClient(server.v1p2_base_url(TENANT), auth)
            stack.enter_context(client)
            to_session = MAPPERS["academicSessions"]
            sessions = [to_session(r) for r in client.iter_collection("academicSessions")]
            periods = [to_session(r) for r in client.iter_collection("gradingPeriods")]
        assert len(sessions) == len(district.academicSessions)
        by_id = {s.sourced_id: s for s in sessions}
        assert len(periods) == 4
        for period in periods:
            assert period.type == "gradingPeriod"
            parent = by_id[period.parent_sourced_id or ""]
            assert parent.type == "term"
            assert parent.start_date <= period.start_date <= period.end_date <= parent.end_date
