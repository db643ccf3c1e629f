"""The summary email tells records waiting for another record's fix apart from records skipped
by design, and names the record they wait for."""

from __future__ import annotations

from tests.unit.notify.test_emails import District, Run

from rostersync.domain.references import waiting_key
from rostersync.domain.validate import WAITING
from rostersync.notify.emails import summary_email


def test_waiting_records_name_what_they_wait_for() -> None:
    skipped = {
        "guardian": 2,
        f"enrollment_{WAITING}": 3,
        waiting_key("enrollment", "class “Reading 1” (cls-1)"): 3,
    }
    email = summary_email(
        district=District(),
        run=Run(counts={"entities": {}, "skipped": skipped}),
        open_issues=[],
        portal_base_url="https://portal.example",
        to=["dm@springfield.example"],
    )
    sentence = "3 enrollments wait for: class “Reading 1” (cls-1) 3"
    for body in (email.text, email.html):
        assert f"Waiting for another record's fix: {sentence}" in body
        by_design = next(line for line in body.splitlines() if "by design" in line)
        assert "guardian 2" in by_design and "waiting" not in by_design
