"""A district read from Clever is told to fix things in Clever, never in ClassLink.

The issue page, a record's page and the summary email of a Clever district name Clever where a
ClassLink district's name ClassLink (`Provider.source_name`; the ClassLink wording is asserted by
the admin and notify tests). The district is served with one course missing, so a class points at
a course "not in the roster Clever shared", whose fix is to share it in Clever.
"""

from __future__ import annotations

import email
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from tests.integration.admin.conftest import PASSWORD, staff_sign_in
from tests.integration.clever.conftest import SLUG, make_portal, onboard, settings_for

from rostersync.errors import ManualRosteringDisabled
from rostersync.services import Services
from rostersync.simulator import generate_district
from rostersync.simulator.clever import CleverSimulator
from rostersync.web.app import create_app
from rostersync.web.server import PortalServer

DATA_MANAGER = "dm@springfield.example"
VENDOR = "vendor@portal.example"


@dataclass(frozen=True)
class Scene:
    service: Services
    url: str
    run_id: str
    # The class whose course Clever no longer shares, and a student the portal holds.
    class_id: str
    student_id: str


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp: Path = tmp_path_factory.mktemp("clever-wording")
    with CleverSimulator(
        client_id="rostersync-app", client_secret="clever-app-secret-7Kp"
    ) as clever:
        district_id = clever.add_district(generate_district(students=40, seed=5, bad_records=True))
        served = clever.district(district_id)
        course = served.model.collection("courses")[0]["id"]
        (section,) = [s for s in served.model.collection("sections") if s["course"] == course]
        served.delete("courses", course)
        portal = PortalServer()
        settings = settings_for(
            clever,
            tmp,
            f"sqlite:///{tmp / 'portal.db'}",
            portal_base_url=portal.url,
            session_cookie_secure=False,
            log_level="WARNING",
        )
        service = make_portal(settings)
        try:
            onboard(service, district_id, data_manager_emails=[DATA_MANAGER])
            report = service.runs.sync(SLUG)
            assert report.status == "succeeded", report.error
            assert "unknown_course" in {i.code for i in report.issues}
            service.staff.add_staff(
                email=VENDOR, display_name="Val Vendor", role="vendor_staff",
                password=PASSWORD, district=None,
            )  # fmt: skip
            student = service.districts.people(SLUG, kind="students", limit=1)[0]
            portal.start(create_app(service))
            yield Scene(
                service, portal.url, report.run_id, str(section["id"]), str(student.sourced_id)
            )
        finally:
            portal.stop()
            service.close()


@pytest.fixture(scope="module")
def staff(scene: Scene) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=scene.url, timeout=30) as client:
        assert staff_sign_in(client, VENDOR).status_code == 303
        yield client


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_issue_page_says_the_roster_comes_from_clever_and_fixes_are_shared_there(
    scene: Scene, staff: httpx.Client
) -> None:
    page = staff.get(f"/admin/districts/{SLUG}/issues")
    assert page.status_code == 200, page.text
    said = text_of(page.text)
    assert "gets its roster from Clever" in said and "(or in Clever)" in said
    assert "Share the course with this application in Clever" in said
    assert "the roster Clever shared" in said
    assert "Name, student ID or Clever id" in said
    assert "ClassLink" not in said


def test_a_record_page_names_clever_as_its_source_and_its_id(
    scene: Scene, staff: httpx.Client
) -> None:
    held = staff.get(f"/admin/districts/{SLUG}/classes/{quote(scene.class_id, safe='')}")
    assert held.status_code == 200, held.text
    said = text_of(held.text)
    assert "Held: Clever sent this class" in " ".join(said.split())
    assert "Clever id" in said
    assert "Share the course with this application in Clever" in said
    assert "ClassLink" not in said

    person = staff.get(f"/admin/districts/{SLUG}/people/{quote(scene.student_id, safe='')}")
    assert person.status_code == 200, person.text
    said = text_of(person.text)
    assert "Kept in step with Clever" in said and "Clever id" in said
    assert "Clever sync run" in said
    assert "ClassLink" not in said


def test_the_summary_email_tells_the_data_manager_to_fix_it_in_clever(scene: Scene) -> None:
    outbox = scene.service.settings.resolved_outbox_dir
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    assert scene.service.runs.notify(scene.run_id) == ["summary"]
    (sent,) = set(outbox.glob("*.eml")) - before
    message = email.message_from_bytes(sent.read_bytes())
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    text = _decoded(parts["text/plain"])
    assert "in your SIS (or in Clever)" in text
    assert "with this application in Clever, or correct the class's course" in text
    assert "ClassLink" not in text
    assert "ClassLink" not in text_of(_decoded(parts["text/html"]))
    attached = _decoded(parts["text/csv"])
    assert "in Clever" in attached and "ClassLink" not in attached


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


def test_the_run_pages_call_a_records_id_its_clever_id(scene: Scene, staff: httpx.Client) -> None:
    issues = staff.get(f"/admin/runs/{scene.run_id}/issues")
    assert issues.status_code == 200, issues.text
    assert '<th scope="col">Clever id</th>' in issues.text
    run = staff.get(f"/admin/runs/{scene.run_id}")
    assert run.status_code == 200, run.text
    assert "ClassLink" not in text_of(issues.text) and "ClassLink" not in text_of(run.text)


def test_accounts_of_a_clever_district_are_said_to_come_from_clever(scene: Scene) -> None:
    with pytest.raises(ManualRosteringDisabled) as refused:
        scene.service.imports.add_educator(
            SLUG, given_name="Ada", family_name="Byron", email="ada.byron@springfield.example",
            role="teacher", actor="test",
        )  # fmt: skip
    said = str(refused.value)
    assert "is rostered from Clever, so accounts come from Clever" in said
    assert "in your SIS/Clever" in said and "ClassLink" not in said

    sheet = (
        "first_name,last_name,email,role,school_identifier_or_sourced_id\n"
        "Ada,Byron,ada.byron@springfield.example,teacher,\n"
    )
    report = scene.service.imports.import_staff(
        SLUG, "staff.csv", sheet.encode(), actor="test", dry_run=True
    )
    (error,) = [e for e in report.errors if e.column == "role"]
    assert "teachers come from Clever" in error.problem and "SIS/Clever" in error.fix
    assert "ClassLink" not in str(error)


def test_the_district_and_import_pages_name_clever(scene: Scene, staff: httpx.Client) -> None:
    district = staff.get(f"/admin/districts/{SLUG}")
    assert district.status_code == 200, district.text
    assert 'placeholder="Name, email, student ID or Clever id"' in district.text
    imports = staff.get(f"/admin/districts/{SLUG}/import")
    assert imports.status_code == 200, imports.text
    said = " ".join(text_of(imports.text).split())
    assert "For staff Clever does not send" in said and "ClassLink" not in said
