"""Scheduled slots on SQLite and PostgreSQL: exactly-once enqueue and claim, reaping, retries,
quarantine and the failure emails, with the simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update
from tests.integration.jobs.conftest import onboard_daily, serve

from rostersync.config import Settings
from rostersync.jobs.scheduler import Enqueued, tick
from rostersync.jobs.tasks import SlotOutcome, run_slot
from rostersync.notify.notifier import Notifier
from rostersync.notify.senders import MemorySender
from rostersync.services import Services
from rostersync.simulator import SimulatorServer
from rostersync.simulator.faults import server_error
from rostersync.store import jobs as store_jobs
from rostersync.store import runs as store_runs
from rostersync.store.tables import districts

KEY, SECRET = "ogden-key", "ogden-secret-71x"
VENDOR = "support@vendor.example"


@pytest.fixture
def portal(fresh_db_url: Callable[[], str], tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=fresh_db_url(),
        secret_keys=Fernet.generate_key().decode(),
        log_format="json",
        http_max_retries=0,
        quarantine_after_failures=2,
        vendor_alert_emails=VENDOR,
        stale_after_days=36500,
        job_lease_seconds=60,
    )
    service = Services(settings)
    service.init_db()
    yield service
    service.close()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with serve("ogden", seed=9, key=KEY, secret=SECRET) as server:
        yield server


@pytest.fixture
def district_id(portal: Services, simulator: SimulatorServer) -> Iterator[str]:
    simulator.set_faults("ogden")
    district = onboard_daily(portal, simulator, "ogden", key=KEY, secret=SECRET)
    yield district.id
    simulator.set_faults("ogden")


def tick_at(portal: Services, now: datetime) -> list[Enqueued]:
    return tick(portal, now, enqueue=lambda *_args: None)


class TestTick:
    """A tick enqueues each due slot once; a paused district is not enqueued."""

    def test_due_slot_is_enqueued_once_however_often_it_ticks(
        self, portal: Services, district_id: str
    ) -> None:
        # An hour after the day's 05:00 Denver slot (12:00 UTC, 11:00 in summer), so the tick an
        # hour later still falls in the same slot whatever time of day the test runs.
        day = datetime.now(UTC) + timedelta(days=3)
        now = day.replace(hour=13, minute=0, second=0, microsecond=0)
        first = tick_at(portal, now)
        assert [(e.slug, e.reason) for e in first] == [("ogden", "due")]
        assert first[0].due_slot <= now < first[0].due_slot + timedelta(days=1)
        assert tick_at(portal, now) == []
        assert tick_at(portal, now + timedelta(hours=1)) == []
        assert len(tick_at(portal, now + timedelta(days=1))) == 1

    def test_paused_district_is_not_enqueued(self, portal: Services, district_id: str) -> None:
        with portal.engine.begin() as conn:
            conn.execute(update(districts).values(status="paused"))
        assert tick_at(portal, datetime.now(UTC) + timedelta(days=3)) == []

    def test_schedule_info_shows_the_next_run_in_the_districts_zone(
        self, portal: Services, district_id: str
    ) -> None:
        info = portal.districts.schedule("ogden")
        assert info.description == "every day at 05:00 (America/Denver)"
        assert info.next_run_local.strftime("%H:%M") == "05:00"
        assert info.next_run_utc > datetime.now(UTC)


class TestClaims:
    """Exactly one worker claims a slot; a district never has two running slots; dead ones are
    reaped."""

    def test_second_claim_of_a_slot_is_a_duplicate_and_another_slot_is_busy(
        self, portal: Services, district_id: str
    ) -> None:
        now = datetime.now(UTC)
        slot_a, slot_b = now - timedelta(days=1), now
        lease = timedelta(seconds=60)
        with portal.engine.begin() as conn:
            for slot in (slot_a, slot_b):
                assert store_jobs.enqueue_slot(
                    conn, district_id=district_id, due_slot=slot, trigger="scheduled", now=now
                )
            claims = [
                store_jobs.claim_slot(
                    conn, district_id=district_id, due_slot=s, worker=w, now=now, lease=lease
                )
                for s, w in ((slot_a, "w1"), (slot_a, "w2"), (slot_b, "w2"))
            ]
        assert claims == [
            store_jobs.Claim.CLAIMED,
            store_jobs.Claim.DUPLICATE,
            store_jobs.Claim.BUSY,
        ]

    def test_expired_claim_is_reaped_its_run_abandoned_and_the_slot_queued_again(
        self, portal: Services, district_id: str
    ) -> None:
        now = datetime.now(UTC)
        with portal.engine.begin() as conn:
            store_jobs.enqueue_slot(
                conn, district_id=district_id, due_slot=now, trigger="scheduled", now=now
            )
            store_jobs.claim_slot(
                conn,
                district_id=district_id,
                due_slot=now,
                worker="dead:1:1",
                now=now - timedelta(minutes=5),
                lease=timedelta(seconds=10),
            )
            orphan = store_runs.create_run(
                conn, district_id=district_id, trigger="scheduled", mode="apply", now=now
            )
        reaped = tick_at(portal, now)
        assert [e.reason for e in reaped] == ["reaped"]
        assert portal.runs.get(orphan).status == "abandoned"
        with portal.engine.connect() as conn:
            slot = store_jobs.get_slot(conn, district_id, now)
        assert slot is not None and slot.status == "queued" and slot.worker is None


class TestRetriesAndQuarantine:
    """A retriable failure is retried; repeated failed slots quarantine the district and tell
    its data manager and the vendor; a success lifts it."""

    def run(
        self,
        portal: Services,
        district_id: str,
        slot: datetime,
        *,
        final: bool,
        sender: MemorySender,
    ) -> SlotOutcome:
        with portal.engine.begin() as conn:
            store_jobs.enqueue_slot(
                conn, district_id=district_id, due_slot=slot, trigger="scheduled", now=slot
            )
        return run_slot(
            portal,
            Notifier(portal.engine, portal.settings, sender),
            district_id=district_id,
            due_slot=slot,
            final_attempt=final,
        ).outcome

    def test_failures_retry_then_quarantine_then_a_success_lifts_it(
        self, portal: Services, district_id: str, simulator: SimulatorServer
    ) -> None:
        sender = MemorySender()
        simulator.set_faults("ogden", server_error(503, times=1000))
        day = datetime.now(UTC).replace(microsecond=0)

        assert self.run(portal, district_id, day, final=False, sender=sender) is SlotOutcome.RETRY
        assert sender.messages == []  # no email for a failure that will be retried
        with portal.engine.connect() as conn:
            assert store_jobs.get_slot(conn, district_id, day).status == "queued"
        outcome = run_slot(
            portal,
            Notifier(portal.engine, portal.settings, sender),
            district_id=district_id,
            due_slot=day,
        ).outcome
        assert outcome is SlotOutcome.DONE
        assert [m["Subject"] for m in sender.messages] == [
            "Ogden SD – Ogden, UT: roster sync failed"
        ]
        assert "after 2 attempts" in sender.messages[0].get_body(("plain",)).get_content()

        later = day + timedelta(days=1)
        assert self.run(portal, district_id, later, final=True, sender=sender) is SlotOutcome.DONE
        quarantine = [m for m in sender.messages if "backed off to daily" in m["Subject"]]
        assert len(quarantine) == 1
        assert quarantine[0]["To"] == f"dm@ogden.example, {VENDOR}"
        assert "quarantined" in portal.districts.schedule("ogden").description

        simulator.set_faults("ogden")
        third = later + timedelta(days=1)
        assert self.run(portal, district_id, third, final=True, sender=sender) is SlotOutcome.DONE
        assert portal.districts.schedule("ogden").quarantined is None
        assert "roster sync succeeded" in sender.messages[-1]["Subject"]
