"""The same district served by ClassLink (OneRoster 1.1) and by Clever gives the same portal.

Every record has other ids in Clever, so the portals are compared as their people see them
(`portal_view`): students by name, email, student ID and grade; educators by name, email and
role; classes by title and code; enrollments as (class, person, role); eligibility per student.
"""

from __future__ import annotations

import copy
from pathlib import Path

from tests.integration.clever.conftest import (
    APP_ID,
    APP_SECRET,
    SLUG,
    make_portal,
    onboard,
    settings_for,
)
from tests.integration.clever.portal_view import portal_view

from rostersync.services import Questionnaire
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.simulator.clever import CleverSimulator

KEY, SECRET = "springfield-key", "springfield-secret-9Zq"


def test_classlink_and_clever_serving_one_district_give_the_same_portal(
    tmp_path: Path,
) -> None:
    data = generate_district(students=150, seed=11)
    with (
        SimulatorServer([Tenant(SLUG, copy.deepcopy(data), KEY, SECRET)]) as classlink,
        CleverSimulator(client_id=APP_ID, client_secret=APP_SECRET) as clever,
    ):
        clever_district = clever.add_district(copy.deepcopy(data))
        views = {}
        for door in ("classlink", "clever"):
            directory = tmp_path / door
            directory.mkdir()
            portal = make_portal(settings_for(clever, directory, f"sqlite:///{directory / 'p.db'}"))
            try:
                if door == "classlink":
                    portal.districts.add(
                        Questionnaire(
                            slug=SLUG,
                            name="Springfield Unified School District",
                            display_name="Springfield USD – Springfield, IL",
                            city="Springfield",
                            state="IL",
                            source_kind="oneroster-1.1",
                            source_url=classlink.base_url(SLUG),
                            key=KEY,
                            secret=SECRET,
                            eligibility_source="metadata",
                            eligibility_field="eligibility",
                        )
                    )
                else:
                    onboard(portal, clever_district)
                report = portal.runs.sync(SLUG)
                assert report.status == "succeeded", (door, report.error)
                views[door] = portal_view(portal)
            finally:
                portal.close()

    through_classlink, through_clever = views["classlink"], views["clever"]
    assert through_classlink.students and through_classlink.enrollments
    assert through_classlink.eligibility, "some students' eligibility comes from the source"
    assert through_clever.students == through_classlink.students
    assert through_clever.educators == through_classlink.educators
    assert through_clever.classes == through_classlink.classes
    assert through_clever.enrollments == through_classlink.enrollments
    assert through_clever.eligibility == through_classlink.eligibility
