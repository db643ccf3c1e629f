"""A district whose Clever data has the quirks of real ones (missing fields, a primary teacher
left out of `teachers`, fields we do not know) gives the same portal as a tidy one."""

from __future__ import annotations

from tests.integration.clever.conftest import PortalMaker, district_id, onboard, sync
from tests.integration.clever.portal_view import portal_view

from rostersync.simulator.clever import CleverSimulator


def test_a_quirky_district_gives_the_same_portal_as_a_tidy_one(
    make_clever_portal: PortalMaker, clever: CleverSimulator
) -> None:
    here = district_id(clever)
    tidy = make_clever_portal()
    onboard(tidy, here)
    assert sync(tidy).status == "succeeded"

    clever.set_quirks(here)
    quirky = make_clever_portal()
    onboard(quirky, here)
    report = sync(quirky)

    assert report.status == "succeeded", report.error
    view = portal_view(quirky)
    assert view == portal_view(tidy)
    # The primary teachers, missing from every section's `teachers`, are still enrolled.
    assert any(role == "teacher" for _class, _person, role in view.enrollments)
    # And a resync through the same quirks changes nothing.
    again = sync(quirky)
    assert again.status == "succeeded" and again.change_count == 0
