"""The summary email after a scheduled sync of the simulator's planted bad records names each
example record as people know it (name, student ID, school) before its ClassLink sourcedId, in
the text and the HTML part and in the attached CSV; the log lines name no one."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from tests.integration.notify.conftest import PASSWORD, USER, SmtpServer

from rostersync.config import Settings
from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.jobs.scheduler import tick
from rostersync.logs import configure_logging
from rostersync.notify.csvfile import COLUMNS
from rostersync.notify.senders import SmtpSender
from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.simulator.district import DistrictData
from rostersync.store import jobs as store_jobs

KEY, SECRET = "ogden-key", "ogden-secret-8Hw"
DATA_MANAGER = "data.manager@ogdenville.example"


def roster() -> DistrictData:
    return generate_district(students=40, seed=5, bad_records=True)


@pytest.fixture
def portal(fresh_db_url: Callable[[], str], tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=fresh_db_url(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        portal_base_url="https://portal.example",
        mail_from="rostersync@vendor.example",
        job_max_retries=0,
        stale_after_days=36500,
    )
    service = Services(settings)
    service.init_db()
    yield service
    service.close()


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer([Tenant(name="ogdenville", data=roster(), key=KEY, secret=SECRET)]) as srv:
        yield srv


def sync(portal: Services, simulator: SimulatorServer, smtp: SmtpServer) -> None:
    portal.districts.add(
        Questionnaire(
            slug="ogdenville",
            name="Ogdenville School District",
            display_name="Ogdenville SD – Ogdenville, IL",
            city="Ogdenville",
            state="IL",
            source_url=simulator.base_url("ogdenville"),
            key=KEY,
            secret=SECRET,
            data_manager_emails=[DATA_MANAGER],
            sync_frequency="daily",
            sync_time="05:00",
        )
    )
    sender = SmtpSender(
        smtp.host,
        smtp.port,
        username=USER,
        password=PASSWORD,
        starttls=True,
        context=smtp.client_context,
        timeout=10,
    )
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
    assert slot is not None and slot.status == "finished"


def test_the_summary_email_names_the_planted_records_before_their_ids(
    portal: Services,
    simulator: SimulatorServer,
    smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = roster()
    schools = {o["sourcedId"]: o["name"] for o in data.orgs}
    configure_logging(portal.settings)
    sync(portal, simulator, smtp_server)
    logged = capsys.readouterr().err

    (message,) = smtp_server.received.messages
    text = message.get_body(("plain",)).get_content()
    page = html.unescape(message.get_body(("html",)).get_content())
    problem = next(p for p in data.planted if p.problem == "missing_grade")
    user = next(u for u in data.users if u["sourcedId"] == problem.sourced_id)
    name = f"{user['givenName']} {user['familyName']}"
    school = schools[user["orgs"][0]["sourcedId"]]
    for body in (text, page):
        # The example line of the group (not the count of what waits for the record).
        line = next(ln for ln in body.splitlines() if problem.sourced_id in ln and "grades" in ln)
        assert name in line and user["identifier"] in line and school in line
        assert line.index(name) < line.index(user["identifier"]) < line.index(problem.sourced_id)

    (attachment,) = message.iter_attachments()
    raw = attachment.get_payload(decode=True).decode("utf-8-sig")
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in csv.reader(io.StringIO(raw))][1:]
    (row,) = [r for r in rows if r["sourced_id"] == problem.sourced_id]
    assert (row["name"], row["student_id"], row["school"]) == (name, user["identifier"], school)

    # Names are for the district's own people, in the portal and its emails: never in a log.
    people = {f"{u['givenName']} {u['familyName']}" for u in data.users}
    assert "sync" in logged  # the run's lines were written
    assert not [n for n in people if n in logged]
