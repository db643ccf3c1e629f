"""A staff page or API call refused for scope leaves a trace: the 404 carries a reference, and one
log line has it with why (`out_of_scope`, `vendor_only`, `missing`), the staff account's id and
the district's id, never a name or a slug. A missing district and another district's look alike
to the person, apart from their references."""

from __future__ import annotations

import re
from typing import Any

import httpx
import structlog
from tests.integration.admin.conftest import AdminWorld, api_csrf, form_csrf, staff_sign_in

REFERENCE = re.compile(r"[Rr]eference ([0-9A-Z]{5}-[0-9A-Z]{5})")


def traced(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "staff.page_refused"]


def reference_in(text: str) -> str:
    found = REFERENCE.search(text)
    assert found, text
    return found.group(1)


def shelbyville_id(world: AdminWorld) -> str:
    district, _ = world.service.districts.get("shelbyville")
    return str(district.id)


def test_another_districts_page_is_a_404_whose_reference_is_logged_with_why(
    world: AdminWorld, browser: httpx.Client
) -> None:
    staff_sign_in(browser, world.dm_springfield.email)
    with structlog.testing.capture_logs() as events:
        refused = browser.get("/admin/districts/shelbyville")
        missing = browser.get("/admin/districts/no-such-district")
    assert (refused.status_code, missing.status_code) == (404, 404)
    out, gone = traced(events)
    assert out["reference"] == reference_in(refused.text)
    assert (out["reason"], out["staff_id"], out["district"]) == (
        "out_of_scope",
        world.dm_springfield.id,
        shelbyville_id(world),
    )
    assert out["log_level"] == "warning"
    assert gone["reference"] == reference_in(missing.text)
    assert (gone["reason"], gone["district"]) == ("missing", None)
    # The person cannot tell the two apart: the same page, but for the reference.
    assert REFERENCE.sub("", refused.text) == REFERENCE.sub("", missing.text)
    # Nothing that names the district or a person reaches the line.
    for line in (out, gone):
        assert "shelbyville" not in repr(line).lower()
        assert world.dm_springfield.email not in repr(line)


def test_another_districts_run_and_api_calls_are_traced_too(
    world: AdminWorld, browser: httpx.Client
) -> None:
    run_id = world.service.runs.recent(shelbyville_id(world), limit=1)[0].id
    staff_sign_in(browser, world.dm_springfield.email)
    with structlog.testing.capture_logs() as events:
        page = browser.get(f"/admin/runs/{run_id}")
        api_district = browser.get("/api/v1/districts/shelbyville")
        api_run = browser.get(f"/api/v1/runs/{run_id}")
    assert [r.status_code for r in (page, api_district, api_run)] == [404, 404, 404]
    lines = traced(events)
    assert [line["reason"] for line in lines] == ["out_of_scope"] * 3
    assert {line["district"] for line in lines} == {shelbyville_id(world)}
    assert lines[0]["reference"] == reference_in(page.text)
    assert lines[1]["reference"] == reference_in(api_district.json()["detail"])
    assert lines[2]["reference"] == reference_in(api_run.json()["detail"])


def test_a_data_manager_posting_a_vendor_only_form_is_refused_and_traced(
    world: AdminWorld, browser: httpx.Client
) -> None:
    staff_sign_in(browser, world.dm_springfield.email)
    csrf = form_csrf(browser.get("/admin/districts/springfield").text)
    before = world.service.districts.get("springfield")[1]
    with structlog.testing.capture_logs() as events:
        refused = browser.post(
            "/admin/districts/springfield/recipients",
            data={"csrf": csrf, "recipients": "someone@else.example"},
        )
    assert refused.status_code == 404
    (line,) = traced(events)
    assert line["reason"] == "vendor_only"
    assert line["reference"] == reference_in(refused.text)
    assert world.service.districts.get("springfield")[1] == before
    assert api_csrf(browser)  # the session is still good: only the form was refused
