"""The wizard tells the truth: the source step is done only once a connection to it worked, a
district that pushes files is not asked for a schedule, and after going live the wizard shows the
date and what to do next.

Capital City (tenant 1004) is served by the simulators but not onboarded; each test onboards a
district of its own slug from it, as tests/integration/web/test_onboarding.py does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, staff_sign_in
from tests.integration.web.test_onboarding import create, csrf_of, field_error, schedule, source

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district

VENDOR = "vendor@portal.example"


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("onboarding-truth")
    settings = sandboxes.portal_settings(tmp, databases.new(), sso_timeout_seconds=2.0)
    capital = SandboxDistrict(
        slug="capital",
        tenant_id="1004",
        display_name="Capital City SD – Capital City, IL",
        data=generate_district(students=15, seed=6, tenant="capital"),
        onboarded=False,
    )
    with Sandbox(settings, [capital]) as sandbox:
        assert sandbox.service is not None
        sandbox.service.staff.add_staff(
            email=VENDOR, display_name="Val Vendor", role="vendor_staff", password=PASSWORD
        )
        yield sandbox


@pytest.fixture
def vendor(world: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, VENDOR).status_code == 303
        yield client


def progress(world: Sandbox, slug: str) -> dict[str, bool]:
    assert world.service is not None
    return world.service.onboarding.progress(slug)


def step_state(page: str, step: str) -> str | None:
    """The badge next to a step in the wizard's step list ("done", "not needed"), if any."""
    marker = f'id="step-{step}-state">'
    if marker not in page:
        return None
    return page.split(marker, 1)[1].split("<", 1)[0]


def resumes_at(client: httpx.Client, slug: str) -> str:
    return str(client.get(f"/admin/onboarding/{slug}").headers["location"])


class TestTheSourceStep:
    def test_a_failed_test_connection_does_not_mark_the_step_done(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-failed")
        failed = source(vendor, world, "cap-failed", secret="not-the-secret")
        assert failed.status_code == 400
        assert "HTTP 401" in field_error(failed.text, "secret")
        assert not progress(world, "cap-failed")["source"]
        assert step_state(failed.text, "source") is None
        assert 'id="source-untested"' in failed.text
        assert world.service is not None
        entry = world.service.districts.audit_entries("cap-failed")[0]
        assert entry.action == "onboarding_source"
        assert (entry.changes or {}).get("connection") == "failed"

        worked = source(vendor, world, "cap-failed")
        assert worked.status_code == 200 and "the credentials work" in worked.text
        assert progress(world, "cap-failed")["source"]
        assert step_state(worked.text, "source") == "done"
        assert 'id="source-untested"' not in worked.text

    def test_a_source_saved_without_a_test_is_not_done_until_one_works(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-untested")
        assert source(vendor, world, "cap-untested", action="save").status_code == 303
        assert not progress(world, "cap-untested")["source"]
        page = vendor.get("/admin/onboarding/cap-untested/source").text
        assert 'id="source-untested"' in page and step_state(page, "source") is None
        # Resuming goes on from the first step not yet saved: the schedule.
        assert resumes_at(vendor, "cap-untested").endswith("/schedule")

        assert world.service is not None
        world.service.onboarding.test_source("cap-untested", actor="staff:test")
        assert progress(world, "cap-untested")["source"]
        actions = [e.action for e in world.service.districts.audit_entries("cap-untested")]
        assert actions[:2] == ["onboarding_source_tested", "onboarding_source"]

        # Saving the source again needs a new test before the step is done again.
        assert source(vendor, world, "cap-untested", action="save").status_code == 303
        assert not progress(world, "cap-untested")["source"]


class TestAPushingDistrict:
    def test_is_not_asked_for_a_schedule(self, vendor: httpx.Client, world: Sandbox) -> None:
        create(vendor, "cap-pushes")
        assert not progress(world, "cap-pushes")["schedule"]
        chosen = vendor.post(
            "/admin/onboarding/cap-pushes/source",
            data={"source_kind": "push", "action": "save", "csrf": csrf_of(vendor)},
        )
        assert chosen.status_code == 200
        assert 'href="/admin/onboarding/cap-pushes/preview">Continue to the preview' in chosen.text
        assert "Continue to the schedule" not in chosen.text
        done = progress(world, "cap-pushes")
        assert done["source"] and done["schedule"]

        page = vendor.get("/admin/onboarding/cap-pushes/schedule")
        assert page.status_code == 200
        assert 'id="schedule-not-needed"' in page.text
        assert 'name="sync_frequency"' not in page.text
        assert step_state(page.text, "schedule") == "not needed"
        assert resumes_at(vendor, "cap-pushes").endswith("/preview")
        # A pushed file is synced as it arrives: the preview step promises no preview of it.
        preview = vendor.get("/admin/onboarding/cap-pushes/preview").text
        assert 'id="push-first-file"' in preview and "synced as soon as it arrives" in preview
        assert "Preview sync" not in preview

    def test_a_district_that_pulls_is_still_asked(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-pulls")
        page = vendor.get("/admin/onboarding/cap-pulls/schedule").text
        assert 'id="schedule-not-needed"' not in page and 'name="sync_frequency"' in page
        assert step_state(page, "schedule") is None


class TestAfterGoLive:
    def test_the_go_live_page_shows_the_date_and_what_to_do_next(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        slug = "cap-next"
        create(vendor, slug)
        assert source(vendor, world, slug).status_code == 200
        assert schedule(vendor, slug).status_code == 303
        preview = vendor.post(f"/admin/districts/{slug}/preview", data={"csrf": csrf_of(vendor)})
        run_id = preview.headers["location"].split("/")[3].split("?")[0]
        approved = vendor.post(f"/admin/runs/{run_id}/approve", data={"csrf": csrf_of(vendor)})
        assert approved.status_code == 303, approved.text
        before = vendor.get(f"/admin/onboarding/{slug}/go-live").text
        assert 'id="next-steps"' not in before

        later = (date.today() + timedelta(days=30)).isoformat()
        dated = vendor.post(
            f"/admin/onboarding/{slug}/go-live",
            data={"go_live_date": later, "action": "date", "csrf": csrf_of(vendor)},
        )
        scheduled = vendor.get(dated.headers["location"]).text
        assert f"Saved: the district goes live on {later}." in scheduled
        assert 'id="next-steps"' in scheduled

        now = vendor.post(
            f"/admin/onboarding/{slug}/go-live", data={"action": "now", "csrf": csrf_of(vendor)}
        )
        assert now.status_code == 303
        page = vendor.get(now.headers["location"]).text
        assert 'id="district-status">live<' in page
        went_live = page.split('id="went-live-on">', 1)[1].split("<", 1)[0]
        assert date.fromisoformat(went_live) in (
            date.today() - timedelta(days=1),
            date.today(),
            date.today() + timedelta(days=1),
        )
        next_steps = page.split('id="next-steps"', 1)[1]
        assert f'href="/admin/districts/{slug}/invite">Invite a data manager' in next_steps
        assert "data.manager@capital.example" in next_steps
        assert "Watch the first scheduled sync" in next_steps and "next on " in next_steps
        assert f'href="/admin/districts/{slug}/issues"' in next_steps
