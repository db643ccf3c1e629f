"""The onboarding wizard over real HTTP, on SQLite and PostgreSQL, against the ClassLink simulator.

Capital City (tenant 1004) is served by the OneRoster and SSO simulators but not onboarded: the
wizard is given its URL, key and secret as a person would type them. Each test onboards a district
of its own slug (the simulator's tenant may back several portal districts). Springfield is live,
with a data manager, for the scoping tests.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, form_csrf, staff_sign_in
from tests.integration.web.conftest import callback_of

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district
from rostersync.store.districts import get_credentials
from rostersync.store.tables import audit_log, integrations

CAPITAL_TENANT = "1004"


@dataclass(frozen=True)
class Accounts:
    """The staff the tests sign in as."""

    vendor: str
    dm_springfield: str


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("onboarding")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        sso_timeout_seconds=2.0,
    )
    districts = [
        sandboxes.springfield(20),
        SandboxDistrict(
            slug="capital",
            tenant_id=CAPITAL_TENANT,
            display_name="Capital City SD – Capital City, IL",
            data=generate_district(students=15, seed=6, tenant="capital"),
            onboarded=False,
        ),
    ]
    with Sandbox(settings, districts) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def accounts(world: Sandbox) -> Accounts:
    service = world.service
    assert service is not None
    service.staff.add_staff(
        email="vendor@portal.example", display_name="Val Vendor", role="vendor_staff",
        password=PASSWORD, district=None,
    )  # fmt: skip
    service.staff.add_staff(
        email="dm@springfield.example", display_name="Dana Manager", role="data_manager",
        password=PASSWORD, district="springfield",
    )  # fmt: skip
    return Accounts(vendor="vendor@portal.example", dm_springfield="dm@springfield.example")


@pytest.fixture
def vendor(world: Sandbox, accounts: Accounts) -> Iterator[httpx.Client]:
    """A browser signed in as vendor staff."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, accounts.vendor).status_code == 303
        yield client


@pytest.fixture
def data_manager(world: Sandbox, accounts: Accounts) -> Iterator[httpx.Client]:
    """A browser signed in as Springfield's data manager."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        assert staff_sign_in(client, accounts.dm_springfield).status_code == 303
        yield client


def csrf_of(client: httpx.Client) -> str:
    return form_csrf(client.get("/admin/districts").text)


def answers(slug: str, **overrides: Any) -> dict[str, Any]:
    """A complete, valid questionnaire for a district backed by Capital City's tenant."""
    return {
        "slug": slug,
        "name": "Capital City School District",
        "display_name": f"Capital City SD ({slug}) – Capital City, IL",
        "city": "Capital City",
        "state": "IL",
        "tenant_id": CAPITAL_TENANT,
        "data_manager_emails": "data.manager@capital.example\nsecond@capital.example",
        "grades_provided": "yes",
        "unique_emails_provided": "yes",
        "student_id_field": "identifier",
        "student_id_detail": "",
        "eligibility_source": "portal",
        "eligibility_field": "",
        **overrides,
    }


def create(client: httpx.Client, slug: str, **overrides: Any) -> httpx.Response:
    return client.post(
        "/admin/onboarding", data={**answers(slug, **overrides), "csrf": csrf_of(client)}
    )


def source(
    client: httpx.Client, world: Sandbox, slug: str, action: str = "test", **overrides: str
) -> httpx.Response:
    url, key, secret = world.roster_credentials["capital"]
    data = {
        "source_kind": "oneroster-1.1",
        "source_url": url,
        "key": key,
        "secret": secret,
        "action": action,
        "csrf": csrf_of(client),
        **overrides,
    }
    return client.post(f"/admin/onboarding/{slug}/source", data=data)


def schedule(client: httpx.Client, slug: str, **overrides: Any) -> httpx.Response:
    data = {
        "sync_frequency": "weekdays",
        "sync_time": "05:30",
        "time_zone": "America/Chicago",
        "sync_interval_days": "",
        "csrf": csrf_of(client),
        **overrides,
    }
    return client.post(f"/admin/onboarding/{slug}/schedule", data=data)


def field_error(page: str, name: str) -> str:
    """The error shown on a field, which the field names in its aria-describedby."""
    found = re.search(rf'<p class="note field-error" id="{name}-error">(.*?)</p>', page, re.S)
    assert found, f"no error on {name}"
    described = re.search(rf'id="{name}"[^>]*aria-describedby="([^"]*)"', page)
    assert described and f"{name}-error" in described.group(1).split(), f"{name} not tied"
    return re.sub(r"<[^>]+>", "", found.group(1))


def service_of(world: Sandbox) -> Any:
    assert world.service is not None
    return world.service


class TestQuestionnaire:
    """The first step creates the district, `pending`, from answers checked field by field."""

    def test_vendor_staff_create_a_pending_district_and_go_on_to_its_source(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        response = create(vendor, "cap-create")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/onboarding/cap-create/source"
        district, integration = service_of(world).districts.get("cap-create")
        assert district.status == "onboarding" and district.classlink_tenant_id == CAPITAL_TENANT
        assert integration.source_kind == "pending"
        assert integration.data_manager_emails == (
            "data.manager@capital.example",
            "second@capital.example",
        )
        entry = service_of(world).districts.audit_entries("cap-create")[0]
        assert entry.action == "onboarding_answers" and entry.actor.startswith("staff:")

    def test_each_bad_answer_is_shown_on_its_own_field_and_nothing_is_created(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        before = len(service_of(world).districts.list_all())
        response = create(
            vendor,
            "Not A Slug!",
            name="",
            state="Illinois",
            data_manager_emails="not-an-email",
            grades_provided="",
            eligibility_source="metadata",
            eligibility_field="",
            student_id_field="userIds",
        )
        assert response.status_code == 400
        page = response.text
        assert "lower-case letters, digits and hyphens" in field_error(page, "slug")
        assert "official name" in field_error(page, "name")
        assert "two-letter code" in field_error(page, "state")
        assert "not an email address" in field_error(page, "data_manager_emails")
        assert "yes or no" in field_error(page, "grades_provided")
        assert "metadata field that holds eligibility" in field_error(page, "eligibility_field")
        assert "userIds type" in field_error(page, "student_id_detail")
        assert 'role="alert"' in page
        assert len(service_of(world).districts.list_all()) == before

    def test_a_taken_slug_is_refused_on_the_slug_field(self, vendor: httpx.Client) -> None:
        assert create(vendor, "cap-taken").status_code == 303
        again = create(vendor, "cap-taken")
        assert again.status_code == 400
        assert "already exists" in field_error(again.text, "slug")

    def test_editing_the_answers_keeps_the_rules_and_audits_the_fields_changed(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-edit")
        form = {**answers("cap-edit"), "csrf": csrf_of(vendor)}
        bad = vendor.post(
            "/admin/onboarding/cap-edit/answers", data={**form, "student_id_field": "metadata"}
        )
        assert bad.status_code == 400
        assert "metadata field" in field_error(bad.text, "student_id_detail")
        good = vendor.post(
            "/admin/onboarding/cap-edit/answers",
            data={
                **form,
                "student_id_field": "userIds",
                "student_id_detail": "StateID",
                "eligibility_source": "metadata",
                "eligibility_field": "eligibility",
            },
        )
        assert good.status_code == 303
        integration = service_of(world).districts.get("cap-edit")[1]
        assert integration.student_id_field == "userIds:StateID"
        assert integration.eligibility_field == "eligibility"
        entry = service_of(world).districts.audit_entries("cap-edit")[0]
        assert entry.action == "onboarding_answers"
        assert entry.changes == {
            "fields": ["eligibility_field", "eligibility_source", "student_id_field"]
        }
        page = vendor.get("/admin/onboarding/cap-edit/answers").text
        assert 'value="StateID"' in page

    def test_only_vendor_staff_create_districts(self, data_manager: httpx.Client) -> None:
        assert data_manager.get("/admin/onboarding").status_code == 403
        response = data_manager.post(
            "/admin/onboarding", data={**answers("cap-dm"), "csrf": csrf_of(data_manager)}
        )
        assert response.status_code == 403

    def test_a_form_without_the_session_csrf_token_is_refused(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        response = vendor.post("/admin/onboarding", data={**answers("cap-csrf"), "csrf": "forged"})
        assert response.status_code == 403
        assert "cap-csrf" not in [d.slug for d in service_of(world).districts.list_all()]


class TestConnection:
    """Test connection signs in to the real simulator and reads a page of orgs."""

    def test_good_credentials_connect_and_are_stored_encrypted(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-good")
        response = source(vendor, world, "cap-good")
        assert response.status_code == 200, response.text
        assert "Connected to 127.0.0.1" in response.text and "the credentials work" in response.text
        _url, key, secret = world.roster_credentials["capital"]
        assert secret not in response.text and key not in response.text
        integration = service_of(world).districts.get("cap-good")[1]
        assert integration.source_kind == "oneroster-1.1"
        with service_of(world).engine.connect() as conn:
            row = conn.execute(
                select(integrations.c.key_ciphertext, integrations.c.secret_ciphertext).where(
                    integrations.c.district_id == integration.district_id
                )
            ).one()
        assert secret not in row.secret_ciphertext and key not in row.key_ciphertext
        with service_of(world).engine.connect() as conn:
            stored = get_credentials(conn, service_of(world).box, integration.district_id)
        assert stored == (key, secret)

    def test_oneroster_1_2_credentials_connect_through_the_token_endpoint(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-v1p2")
        response = source(
            vendor,
            world,
            "cap-v1p2",
            source_kind="oneroster-1.2",
            source_url=world.roster.v1p2_base_url("capital"),
        )
        assert response.status_code == 200, response.text
        assert "the credentials work" in response.text
        assert service_of(world).districts.get("cap-v1p2")[1].source_kind == "oneroster-1.2"

    def test_a_wrong_secret_gets_the_401_message_on_the_secret_field(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-bad-secret")
        response = source(vendor, world, "cap-bad-secret", secret="not-the-secret")
        assert response.status_code == 400
        message = field_error(response.text, "secret")
        assert "HTTP 401" in message and "check the" in message and "secret" in message
        assert "not-the-secret" not in response.text

    def test_an_unreachable_url_says_to_check_the_url(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        create(vendor, "cap-nowhere")
        response = source(
            vendor,
            world,
            "cap-nowhere",
            source_url=f"http://127.0.0.1:{port}/capital/ims/oneroster/v1p1",
        )
        assert response.status_code == 400
        assert "check the source URL" in field_error(response.text, "source_url")

    def test_missing_url_key_and_secret_are_each_asked_for(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-empty")
        response = source(vendor, world, "cap-empty", source_url="", key="", secret="")
        assert response.status_code == 400
        assert "Enter the source URL" in field_error(response.text, "source_url")
        assert "key" in field_error(response.text, "key")
        assert "secret" in field_error(response.text, "secret")
        assert service_of(world).districts.get("cap-empty")[1].source_kind == "pending"

    def test_a_blank_key_and_secret_keep_the_stored_ones(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-keep")
        assert source(vendor, world, "cap-keep", action="save").status_code == 303
        again = source(vendor, world, "cap-keep", key="", secret="")
        assert again.status_code == 200 and "the credentials work" in again.text
        entry = service_of(world).districts.audit_entries("cap-keep")[0]
        assert entry.action == "onboarding_source" and entry.changes["credentials_replaced"] == []


class TestPush:
    """A district that pushes files gets its push key and secret once, and can rotate them."""

    def test_choosing_push_shows_the_key_and_secret_once_and_rotation_replaces_them(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-push")
        shown = vendor.post(
            "/admin/onboarding/cap-push/source",
            data={"source_kind": "push", "action": "save", "csrf": csrf_of(vendor)},
        )
        assert shown.status_code == 200
        key = re.search(r'id="push-key">([^<]+)<', shown.text)
        secret = re.search(r'id="push-secret">([^<]+)<', shown.text)
        assert key and secret
        assert service_of(world).districts.get("cap-push")[1].source_kind == "oneroster-push"
        assert service_of(world).push.check_credentials("cap-push", key[1], secret[1])
        for later in (
            vendor.get("/admin/onboarding/cap-push/source").text,
            vendor.get("/admin/districts/cap-push/audit").text,
            vendor.post(
                "/admin/onboarding/cap-push/source",
                data={"source_kind": "push", "action": "save", "csrf": csrf_of(vendor)},
            ).text,
        ):
            assert secret[1] not in later
        rotated = vendor.post(
            "/admin/onboarding/cap-push/push/rotate", data={"csrf": csrf_of(vendor)}
        )
        new_secret = re.search(r'id="push-secret">([^<]+)<', rotated.text)
        assert new_secret and new_secret[1] != secret[1]
        assert not service_of(world).push.check_credentials("cap-push", key[1], secret[1])

    def test_a_district_that_pulls_from_classlink_cannot_rotate_push_keys(
        self, vendor: httpx.Client
    ) -> None:
        create(vendor, "cap-no-push")
        response = vendor.post(
            "/admin/onboarding/cap-no-push/push/rotate", data={"csrf": csrf_of(vendor)}
        )
        assert response.status_code == 400 and "does not push OneRoster files" in response.text
        assert 'id="push-secret"' not in response.text


class TestSchedule:
    """The schedule step refuses what `Questionnaire.check` refuses, on the field concerned."""

    def test_each_schedule_error_is_on_its_field(self, vendor: httpx.Client) -> None:
        create(vendor, "cap-sched")
        weekly = schedule(vendor, "cap-sched", sync_frequency="weekly")
        assert "at least one day" in field_error(weekly.text, "sync_days")
        every = schedule(
            vendor, "cap-sched", sync_frequency="every_n_days", sync_interval_days="30"
        )
        assert "less than 30 days apart" in field_error(every.text, "sync_interval_days")
        clock = schedule(vendor, "cap-sched", sync_time="25:00", time_zone="Mars/Olympus")
        assert "HH:MM" in field_error(clock.text, "sync_time")
        assert "IANA" in field_error(clock.text, "time_zone")
        assert weekly.status_code == every.status_code == clock.status_code == 400

    def test_a_valid_schedule_is_saved_and_the_wizard_goes_on_to_the_preview(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-sched-ok")
        response = schedule(
            vendor,
            "cap-sched-ok",
            sync_frequency="weekly",
            sync_days=["mon", "thu"],
            time_zone="America/New_York",
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/onboarding/cap-sched-ok/preview"
        district, integration = service_of(world).districts.get("cap-sched-ok")
        assert integration.sync_frequency == "weekly" and integration.sync_days == ("mon", "thu")
        assert district.time_zone == "America/New_York"
        assert service_of(world).onboarding.progress("cap-sched-ok")["schedule"]


class TestEndToEnd:
    """Questionnaire, credentials, schedule, preview, approve, go-live: then students sign in."""

    def test_an_onboarded_district_is_resumable_and_its_students_sign_in(
        self, vendor: httpx.Client, world: Sandbox
    ) -> None:
        slug = "cap-e2e"
        create(vendor, slug)
        assert vendor.get(f"/admin/onboarding/{slug}").headers["location"].endswith("/source")
        assert source(vendor, world, slug, action="save").status_code == 303
        assert vendor.get(f"/admin/onboarding/{slug}").headers["location"].endswith("/schedule")
        assert schedule(vendor, slug).status_code == 303
        assert vendor.get(f"/admin/onboarding/{slug}").headers["location"].endswith("/preview")
        preview = vendor.post(
            f"/admin/districts/{slug}/preview", data={"csrf": csrf_of(vendor)}
        ).headers["location"]
        run_id = preview.split("/")[3].split("?")[0]
        approved = vendor.post(f"/admin/runs/{run_id}/approve", data={"csrf": csrf_of(vendor)})
        assert approved.status_code == 303, approved.text
        assert vendor.get(f"/admin/onboarding/{slug}").headers["location"].endswith("/go-live")
        past = vendor.post(
            f"/admin/onboarding/{slug}/go-live",
            data={"go_live_date": "2001-01-01", "action": "date", "csrf": csrf_of(vendor)},
        )
        assert "already past" in field_error(past.text, "go_live_date")
        later = (date.today() + timedelta(days=30)).isoformat()
        dated = vendor.post(
            f"/admin/onboarding/{slug}/go-live",
            data={"go_live_date": later, "action": "date", "csrf": csrf_of(vendor)},
        )
        assert dated.status_code == 303
        assert str(service_of(world).districts.get(slug)[0].go_live_date) == later
        now = vendor.post(
            f"/admin/onboarding/{slug}/go-live", data={"action": "now", "csrf": csrf_of(vendor)}
        )
        assert now.status_code == 303
        assert service_of(world).districts.can_sign_in(slug)

        district_id = service_of(world).districts.get(slug)[0].id
        student = next(p for p in world.sso.people(CAPITAL_TENANT) if p.role == "Student")
        with httpx.Client(base_url=world.url, timeout=30) as browser:
            start = browser.get("/login/start", params={"district": district_id})
            assert start.status_code == 303
            authorize = start.headers["location"]
            query = dict(httpx.URL(authorize).params)
            picked = browser.post(
                authorize.split("?")[0],
                data={**query, "person": f"{CAPITAL_TENANT}:{student.sourced_id}"},
            )
            landed = browser.get(callback_of(picked.headers["location"]).url)
            assert landed.status_code == 303 and landed.headers["location"] == "/"
            home = browser.get("/")
        assert f"Hello, {student.display_name}" in home.text


class TestScoping:
    """A data manager reaches only their own district's steps; another's are 404 like a typo."""

    WIZARD = ("", "/answers", "/source", "/schedule", "/preview", "/go-live")

    def test_every_wizard_url_of_another_district_is_not_found(
        self, vendor: httpx.Client, data_manager: httpx.Client, world: Sandbox
    ) -> None:
        create(vendor, "cap-scope")
        csrf = csrf_of(data_manager)
        for suffix in self.WIZARD:
            assert data_manager.get(f"/admin/onboarding/cap-scope{suffix}").status_code == 404
        for suffix in ("/answers", "/source", "/schedule", "/go-live", "/push/rotate"):
            response = data_manager.post(
                f"/admin/onboarding/cap-scope{suffix}",
                data={**answers("cap-scope"), "csrf": csrf, "action": "now"},
            )
            assert response.status_code == 404, suffix
        district = service_of(world).districts.get("cap-scope")[0]
        assert district.status == "onboarding"
        assert [e.action for e in service_of(world).districts.audit_entries("cap-scope")] == [
            "onboarding_answers"
        ]

    def test_a_data_manager_opens_their_own_districts_steps(
        self, data_manager: httpx.Client
    ) -> None:
        for suffix in self.WIZARD[1:]:
            assert data_manager.get(f"/admin/onboarding/springfield{suffix}").status_code == 200

    def test_signed_out_visitors_are_sent_to_the_staff_sign_in(self, world: Sandbox) -> None:
        with httpx.Client(base_url=world.url) as anonymous:
            response = anonymous.get("/admin/onboarding/springfield/source")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/login?next=")


class TestSecrets:
    """Keys and secrets go in encrypted and never come back out: pages, logs, audit rows."""

    def test_no_key_or_secret_is_rendered_logged_or_audited(
        self, vendor: httpx.Client, world: Sandbox, capfd: pytest.CaptureFixture[str]
    ) -> None:
        _url, key, secret = world.roster_credentials["capital"]
        create(vendor, "cap-secret")
        pages = [
            source(vendor, world, "cap-secret").text,
            source(vendor, world, "cap-secret", secret="wrong-secret-Zq81").text,
            vendor.get("/admin/onboarding/cap-secret/source").text,
            vendor.get("/admin/districts/cap-secret").text,
            vendor.get("/admin/districts/cap-secret/audit").text,
        ]
        out, err = capfd.readouterr()
        for text in [*pages, out, err]:
            assert secret not in text and key not in text and "wrong-secret-Zq81" not in text
        district_id = service_of(world).districts.get("cap-secret")[0].id
        with service_of(world).engine.connect() as conn:
            rows = conn.execute(
                select(audit_log.c.changes).where(audit_log.c.district_id == district_id)
            ).scalars()
            audited = " ".join(str(r) for r in rows)
        assert secret not in audited and key not in audited
        assert "capital.example" not in audited  # nor the data managers' emails
