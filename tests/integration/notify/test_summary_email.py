"""The sync summary email, sent through a real SMTP server on loopback after a scheduled sync."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from tests.integration.notify.conftest import PASSWORD, USER, SmtpServer

from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.jobs.scheduler import tick
from rostersync.notify.csvfile import COLUMNS, issue_row, neutralise
from rostersync.notify.senders import OutboxSender, Sender, SmtpSender
from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.store import jobs as store_jobs

KEY, SECRET = "shelby-key", "shelby-secret-5Tq"
DATA_MANAGER = "data.manager@shelbyville.example"


@pytest.fixture
def portal(fresh_db_url: Callable[[], str], tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=fresh_db_url(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        portal_base_url="https://portal.example",
        mail_from="rostersync@vendor.example",
        mail_send_attempts=2,
        mail_retry_delay_seconds=0.01,
        job_max_retries=0,
        # The simulator's stamps are old; the stale email has its own test.
        stale_after_days=36500,
    )
    service = Services(settings)
    service.init_db()
    yield service
    service.close()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    data = generate_district(students=40, seed=5, bad_records=True)
    with SimulatorServer([Tenant(name="shelbyville", data=data, key=KEY, secret=SECRET)]) as srv:
        yield srv


def onboard(portal: Services, simulator: SimulatorServer) -> str:
    district = portal.districts.add(
        Questionnaire(
            slug="shelbyville",
            name="Shelbyville School District",
            display_name="Shelbyville SD – Shelbyville, IL",
            city="Shelbyville",
            state="IL",
            source_url=simulator.base_url("shelbyville"),
            key=KEY,
            secret=SECRET,
            data_manager_emails=[DATA_MANAGER],
            eligibility_source="metadata",
            eligibility_field="eligibility",
            sync_frequency="daily",
            sync_time="05:00",
        )
    )
    return district.id


def run_scheduled(portal: Services, sender: Sender) -> str:
    """Tick two days ahead so the district's daily slot is due, and run it in-process."""
    queue = JobQueue(
        portal.settings,
        huey=make_huey(portal.settings, immediate=True),
        service=portal,
        sender=sender,
        periodic=False,
    )
    sent = tick(portal, datetime.now(UTC) + timedelta(days=2), enqueue=queue.enqueue_sync)
    assert len(sent) == 1
    with portal.engine.connect() as conn:
        slot = store_jobs.get_slot(conn, sent[0].district_id, sent[0].due_slot)
    assert slot is not None and slot.status == "finished" and slot.run_id is not None
    return slot.run_id


def smtp_sender(server: SmtpServer) -> SmtpSender:
    return SmtpSender(
        server.host,
        server.port,
        username=USER,
        password=PASSWORD,
        starttls=True,
        context=server.client_context,
        timeout=10,
    )


class TestSummaryOverSmtp:
    """A sync with validation errors sends one email: grouped errors and the open-issue CSV."""

    def test_one_email_with_grouped_errors_and_a_csv_matching_the_open_issues(
        self, portal: Services, simulator: SimulatorServer, smtp_server: SmtpServer
    ) -> None:
        onboard(portal, simulator)
        run_id = run_scheduled(portal, smtp_sender(smtp_server))

        run = portal.runs.get(run_id)
        assert run.status == "succeeded", run.error
        assert len(smtp_server.received.messages) == 1
        message = smtp_server.received.messages[0]
        assert smtp_server.received.envelopes[0] == ("rostersync@vendor.example", [DATA_MANAGER])
        assert "Shelbyville SD" in message["Subject"]
        open_issues = portal.runs.open_issues("shelbyville")
        assert open_issues, "the simulator plants bad records"

        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"https://portal.example/admin/runs/{run_id}" in text
        assert f"https://portal.example/admin/runs/{run_id}" in html
        for code in {i.code for i in open_issues}:
            count = sum(1 for i in open_issues if i.code == code)
            assert f"[{code}, " in text
            assert f"{count} record" in text
        first = open_issues[0]
        assert first.sourced_id in text and first.fix in text

        attachments = list(message.iter_attachments())
        assert len(attachments) == 1
        assert attachments[0].get_content_type() == "text/csv"
        assert attachments[0].get_content_charset() == "utf-8"
        raw = attachments[0].get_payload(decode=True)
        assert raw.startswith(b"\xef\xbb\xbf")  # a byte-order mark: spreadsheets read UTF-8
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert tuple(rows[0]) == COLUMNS
        expected = [[neutralise(c) for c in issue_row(i)] for i in open_issues]
        assert rows[1:] == expected

    def test_a_refusing_smtp_server_is_retried_and_does_not_fail_the_sync(
        self, portal: Services, simulator: SimulatorServer, smtp_server: SmtpServer
    ) -> None:
        smtp_server.received.refuse = True
        onboard(portal, simulator)
        run_id = run_scheduled(portal, smtp_sender(smtp_server))

        assert portal.runs.get(run_id).status == "succeeded"
        assert smtp_server.received.attempts == portal.settings.mail_send_attempts
        assert smtp_server.received.messages == []


class TestStaleData:
    """A roster whose newest dateLastModified is older than the threshold also asks about it."""

    def test_stale_source_sends_a_second_email_asking_whether_classlink_is_updated(
        self, portal: Services, simulator: SimulatorServer, smtp_server: SmtpServer
    ) -> None:
        portal.settings.stale_after_days = 1
        onboard(portal, simulator)
        run_scheduled(portal, smtp_sender(smtp_server))

        subjects = [m["Subject"] for m in smtp_server.received.messages]
        assert len(subjects) == 2
        assert "updated recently" in subjects[1]


class TestOutbox:
    """The embedded default writes each email as a parseable .eml file in the outbox folder."""

    def test_outbox_file_parses_back_to_the_same_email(
        self, portal: Services, simulator: SimulatorServer, tmp_path: Path
    ) -> None:
        outbox = tmp_path / "outbox"
        onboard(portal, simulator)
        run_id = run_scheduled(portal, OutboxSender(outbox))

        files = sorted(outbox.glob("*.eml"))
        assert len(files) == 1
        assert files[0].stat().st_mode & 0o077 == 0
        parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
        assert parsed["To"] == DATA_MANAGER
        assert run_id in parsed.get_body(("plain",)).get_content()
        assert [a.get_filename() for a in parsed.iter_attachments()] == [
            f"shelbyville-open-issues-{run_id[:8]}.csv"
        ]
