"""Home pages: an educator confirms a student's eligibility, audited and CSRF-protected."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from tests.integration.web.conftest import person_of, sign_in

from rostersync.demo.sandbox import Sandbox
from rostersync.store.tables import audit_log, eligibility, students


def first_confirm_form(page: str) -> tuple[str, str]:
    """(student id, csrf token) of the first eligibility form on an educator's page."""
    found = re.search(
        r'action="/students/([^/]+)/eligibility".*?name="csrf" value="([^"]+)"', page, re.S
    )
    assert found, page
    return found.group(1), found.group(2)


class TestConfirmEligibility:
    """In a portal-sourced district an educator confirms their students' eligibility."""

    def test_confirming_writes_the_status_and_an_audit_row(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        teacher = person_of(world, "1001", "Teacher")
        sign_in(browser, world, "springfield", "1001", teacher.sourced_id)
        student_id, csrf = first_confirm_form(browser.get("/").text)
        response = browser.post(
            f"/students/{student_id}/eligibility", data={"status": "eligible", "csrf": csrf}
        )
        assert response.status_code == 303
        assert world.service is not None
        with world.service.engine.connect() as conn:
            row = conn.execute(
                select(eligibility).where(eligibility.c.student_id == student_id)
            ).one()
            audit = conn.execute(select(audit_log).where(audit_log.c.entity_id == student_id)).all()
        assert row.status == "eligible" and row.source == "portal"
        assert row.changed_by.startswith("educator:")
        assert audit[-1].changes["after"]["status"] == "eligible"

    def test_a_post_without_the_csrf_token_changes_nothing(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        teacher = person_of(world, "1001", "Teacher")
        sign_in(browser, world, "springfield", "1001", teacher.sourced_id)
        student_id, _ = first_confirm_form(browser.get("/").text)
        response = browser.post(
            f"/students/{student_id}/eligibility", data={"status": "not_eligible"}
        )
        assert response.status_code == 403
        assert world.service is not None
        with world.service.engine.connect() as conn:
            status = conn.execute(
                select(eligibility.c.status).where(eligibility.c.student_id == student_id)
            ).scalar_one()
        assert status != "not_eligible"

    def test_a_student_outside_the_educators_classes_is_not_found(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        teacher = person_of(world, "1001", "Teacher")
        sign_in(browser, world, "springfield", "1001", teacher.sourced_id)
        _, csrf = first_confirm_form(browser.get("/").text)
        assert world.service is not None
        with world.service.engine.connect() as conn:
            other = (
                conn.execute(
                    select(students.c.id).where(
                        students.c.district_id == world.district_ids["shelbyville"]
                    )
                )
                .scalars()
                .first()
            )
        response = browser.post(
            f"/students/{other}/eligibility", data={"status": "eligible", "csrf": csrf}
        )
        assert response.status_code == 404

    def test_a_metadata_sourced_district_offers_no_confirmation(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        teacher = person_of(world, "1002", "Teacher")
        sign_in(browser, world, "shelbyville", "1002", teacher.sourced_id)
        page = browser.get("/").text
        assert "sends eligibility from ClassLink" in page
        assert "/eligibility" not in page
