"""A 429 with `Retry-After` answered to one district pauses every district's pulls from that
roster server (decision 0029), over real HTTP to the loopback simulator."""

from __future__ import annotations

import copy
import threading
from typing import Any

from sqlalchemy import func, select
from tests.integration.protocols.conftest import KEY, SECRET, TENANT, PortalMaker
from tests.integration.protocols.test_equivalence import onboard, sync_through_build_source

from rostersync import metrics
from rostersync.oneroster.budget import BudgetNote
from rostersync.providers.registry import roster_budget
from rostersync.services import Services
from rostersync.simulator import SimulatorServer, Tenant
from rostersync.simulator import faults as f
from rostersync.store import districts as store_districts
from rostersync.store import tables

OTHER = "shelbyville"
# Long enough for the other district to start while the host is closed.
RETRY_AFTER = 3.0


def district_id(portal: Services) -> str:
    with portal.engine.connect() as conn:
        return store_districts.get_district(conn, TENANT).id


def students(portal: Services) -> int:
    with portal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(tables.students)).scalar_one()


def runs_ended(status: str) -> float:
    return metrics.REGISTRY.get_sample_value("rostersync_runs_total", {"status": status}) or 0.0


def test_a_429_answered_to_one_district_pauses_the_other_districts_pulls(
    server: SimulatorServer, make_portal: PortalMaker
) -> None:
    server.add_tenant(Tenant(OTHER, copy.deepcopy(server.tenant(TENANT).data), KEY, SECRET))
    plan = server.set_faults(
        TENANT, f.throttle(times=1, retry_after=RETRY_AFTER, collection="users")
    )
    throttled, other = make_portal(), make_portal()
    onboard(
        throttled, source_kind="oneroster-1.1", url=server.base_url(TENANT), key=KEY, secret=SECRET
    )
    onboard(other, source_kind="oneroster-1.1", url=server.base_url(OTHER), key=KEY, secret=SECRET)
    # Both portals are one deployment (one data directory and queue): one budget.
    budget = roster_budget(throttled.settings)
    assert roster_budget(other.settings) is budget
    notes: list[BudgetNote] = []
    # How many requests the other district had sent when each of its waits began.
    sent_before_wait: list[int] = []
    closed = threading.Event()
    held = district_id(other)

    def hear(note: BudgetNote) -> None:
        notes.append(note)
        if note.kind == "closed":
            closed.set()
        if note.kind == "waited" and note.district == held:
            sent_before_wait.append(server.request_count(OTHER))

    budget.listen(hear)
    succeeded = runs_ended("succeeded")
    reports: list[Any] = []
    first = threading.Thread(target=lambda: reports.append(sync_through_build_source(throttled)))
    first.start()
    assert closed.wait(60), "the throttled district never heard a Retry-After"

    report = sync_through_build_source(other)
    first.join(120)
    assert not first.is_alive()

    assert plan.fired == {"429-burst": 1}
    assert report.status == "succeeded", report.error
    assert reports[0].status == "succeeded", reports[0].error
    assert sent_before_wait[:1] == [0]
    assert students(other) == students(throttled) > 0
    # The other district's first request waited for the closure the throttled one was given.
    waited = [n for n in notes if n.kind == "waited" and n.district == held]
    assert waited and waited[0].reason == "closed"
    assert 0 < waited[0].seconds <= RETRY_AFTER
    assert runs_ended("succeeded") == succeeded + 2
