"""Every refused ClassLink sign-in leaves a trace, over real HTTP (decision 0023).

The refusal page shows a reference of its own; one log line carries it with the reason code, the
district id and a keyed hash of the ClassLink subject, and nothing personal; /metrics counts the
refusals by reason, for vendor staff and this machine only. Signing out ends the cookie and the
server session together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from tests.integration import sandboxes
from tests.integration.admin.conftest import staff_sign_in
from tests.integration.web.conftest import (
    person_of,
    reference,
    session_cookie,
    sign_in,
)

from rostersync.demo.sandbox import Sandbox
from rostersync.simulator.sso import SsoFault

OUTSIDE = {"X-Forwarded-For": "203.0.113.9"}  # as a proxy on this machine forwards a visitor


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp: Path = tmp_path_factory.mktemp("traces")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        sso_timeout_seconds=2.0,
    )
    district = sandboxes.springfield(5)
    with Sandbox(settings, [district]) as sandbox:
        yield sandbox


def unique_reference(response: httpx.Response) -> str:
    found = re.search(r'<code class="reference">([0-9A-Z]{5}-[0-9A-Z]{5})</code>', response.text)
    assert found, response.text
    return found.group(1)


def refusals_logged(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "sign_in.refused"]


def refusals_counted(world: Sandbox, reason: str) -> float:
    """The refusal counter for one reason, read from /metrics as a scraper on loopback would."""
    text = httpx.get(f"{world.url}/metrics", timeout=30).text
    found = re.search(
        rf'^rostersync_sign_in_refusals_total\{{reason="{reason}"\}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


TRACED = [
    (SsoFault.ALG_NONE, "id_token_algorithm", False),
    (SsoFault.BAD_SIGNATURE, "id_token_signature", False),
    (SsoFault.WRONG_NONCE, "id_token_claim_nonce", True),
    (SsoFault.TENANT_MISMATCH, "tenant_mismatch", True),
]


class TestRefusalReferences:
    @pytest.mark.parametrize(
        ("fault", "reason", "signed"), TRACED, ids=[f.value for f, *_ in TRACED]
    )
    def test_each_refusal_is_logged_under_a_reference_of_its_own(
        self, browser: httpx.Client, world: Sandbox, fault: SsoFault, reason: str, signed: bool
    ) -> None:
        student = person_of(world, "1001", "Student")
        world.sso.fault = fault
        with structlog.testing.capture_logs() as events:
            first = sign_in(browser, world, "springfield", "1001", student.sourced_id)
            second = sign_in(browser, world, "springfield", "1001", student.sourced_id)
        assert first.status_code == second.status_code == 403
        assert reference(first) == reference(second) == reason
        shown = [unique_reference(first), unique_reference(second)]
        assert shown[0] != shown[1]
        logged = refusals_logged(events)
        assert [e["reference"] for e in logged] == shown
        assert {e["reason"] for e in logged} == {reason}
        assert {e["district"] for e in logged} == {world.district_ids["springfield"]}
        subjects = {e["subject"] for e in logged}
        if signed:  # ClassLink signed the token, so it names someone: logged as a keyed hash
            (subject,) = subjects
            assert re.fullmatch(r"[0-9a-f]{16}", subject) and subject != str(student.user_id)
        else:  # a forged token names nobody we can trust
            assert subjects == {None}
        text = repr(logged)
        for personal in (student.sourced_id, str(student.user_id), student.display_name):
            assert personal not in text

    def test_a_discovery_document_naming_another_issuer_is_refused_and_logged(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        world.sso.fault = SsoFault.DISCOVERY_ISSUER_MISMATCH
        world.fresh_relying_party()  # no discovery document cached
        with structlog.testing.capture_logs() as events:
            response = browser.get(
                "/login/start", params={"district": world.district_ids["springfield"]}
            )
        assert response.status_code == 403
        assert reference(response) == "discovery_issuer_mismatch"
        (logged,) = refusals_logged(events)
        assert logged["reference"] == unique_reference(response)
        assert logged["district"] == world.district_ids["springfield"]

    def test_refusals_are_counted_by_reason(self, browser: httpx.Client, world: Sandbox) -> None:
        student = person_of(world, "1001", "Student")
        before = refusals_counted(world, "id_token_algorithm")
        world.sso.fault = SsoFault.HS256_CLIENT_SECRET
        assert sign_in(browser, world, "springfield", "1001", student.sourced_id).status_code == 403
        assert refusals_counted(world, "id_token_algorithm") == before + 1


class TestMetricsAccess:
    def test_metrics_answer_this_machine_and_vendor_staff_only(self, world: Sandbox) -> None:
        assert world.service is not None
        local = httpx.get(f"{world.url}/metrics")
        assert local.status_code == 200 and "rostersync_sign_in_refusals" in local.text
        for role, address, district in (
            ("vendor_staff", "metrics.vendor@portal.example", None),
            ("data_manager", "metrics.dm@springfield.example", "springfield"),
        ):
            world.service.staff.add_staff(
                email=address, display_name="Mo Metrics", role=role,
                password="a long enough password", district=district,
            )  # fmt: skip
        with httpx.Client(base_url=world.url, headers=OUTSIDE) as outsider:
            assert outsider.get("/metrics").status_code == 403
            staff_sign_in(outsider, "metrics.dm@springfield.example", "a long enough password")
            assert session_cookie(outsider)
            assert outsider.get("/metrics").status_code == 403
        with httpx.Client(base_url=world.url, headers=OUTSIDE) as vendor:
            staff_sign_in(vendor, "metrics.vendor@portal.example", "a long enough password")
            scraped = vendor.get("/metrics")
            assert scraped.status_code == 200
            assert scraped.headers["content-type"].startswith("text/plain")


class TestSignOut:
    def test_a_wrong_csrf_token_still_ends_cookie_and_session_together(
        self, browser: httpx.Client, world: Sandbox
    ) -> None:
        student = person_of(world, "1001", "Student")
        assert sign_in(browser, world, "springfield", "1001", student.sourced_id).status_code == 303
        token = session_cookie(browser)
        assert token and browser.get("/").status_code == 200
        out = browser.post("/logout", data={"csrf": "not the session's token"})
        assert out.status_code == 303 and session_cookie(browser) is None
        browser.cookies.set("rostersync_session", token)
        assert browser.get("/").status_code == 303  # the server session ended too

    def test_staff_sign_out_with_a_wrong_csrf_token_ends_the_session_too(
        self, world: Sandbox
    ) -> None:
        assert world.service is not None
        world.service.staff.add_staff(
            email="leaving@portal.example", display_name="Lou Leaving", role="vendor_staff",
            password="a long enough password", district=None,
        )  # fmt: skip
        with httpx.Client(base_url=world.url) as browser:
            staff_sign_in(browser, "leaving@portal.example", "a long enough password")
            token = session_cookie(browser)
            assert token and browser.get("/admin/districts").status_code == 200
            out = browser.post("/staff/logout", data={"csrf": "forged"})
            assert out.status_code == 303 and session_cookie(browser) is None
            browser.cookies.set("rostersync_session", token)
            assert browser.get("/admin/districts").status_code == 303
