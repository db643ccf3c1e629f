"""Districts created before their credentials exist: `pending` (wizard not finished) and
`oneroster-push` (the district sends us files). Both are rostered; neither needs a key to exist."""

from __future__ import annotations

import pytest

from rostersync.errors import ConfigError, ManualRosteringDisabled
from rostersync.services import PENDING_SOURCE_KIND, Questionnaire, Services


def setup(slug: str, kind: str) -> Questionnaire:
    return Questionnaire(
        slug=slug,
        name=f"{slug.title()} USD",
        display_name=f"{slug.title()} USD – {slug.title()}, IL",
        city=slug.title(),
        state="IL",
        source_kind=kind,
    )


def test_a_pending_district_is_created_and_its_sync_points_at_the_wizard(
    portal: Services,
) -> None:
    district = portal.districts.add(setup("springfield", PENDING_SOURCE_KIND))
    assert district.status == "onboarding"
    with pytest.raises(ConfigError, match="onboarding wizard's credentials step"):
        portal.runs.sync("springfield", trigger="manual")


def test_a_pending_district_counts_as_rostered_so_hand_made_accounts_are_refused(
    portal: Services,
) -> None:
    portal.districts.add(setup("springfield", PENDING_SOURCE_KIND))
    with pytest.raises(ManualRosteringDisabled):
        portal.imports.add_student(
            "springfield", given_name="A", family_name="B", student_id="1", actor="x"
        )


def test_a_rostered_kind_still_needs_its_credentials(portal: Services) -> None:
    with pytest.raises(ConfigError, match="needs its source URL, key and secret"):
        portal.districts.add(setup("springfield", "oneroster-1.1"))
