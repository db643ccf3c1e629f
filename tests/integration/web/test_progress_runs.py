"""Runs started from the admin pages and the API run in the background and report live progress.

The OneRoster simulator serves Springfield in pages of ten, so a pull takes many requests. A
test that looks at a run while it runs holds it at one of its events (`Gate`: the run page's
recorder has heard the event, the run waits until the test lets it go), so nothing is timed.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Connection
from tests.integration import sandboxes
from tests.integration.admin.conftest import PASSWORD, form_csrf

from rostersync.demo.sandbox import Sandbox, SandboxDistrict
from rostersync.simulator import generate_district, mutations
from rostersync.store import progress as store_progress
from rostersync.store.districts import rules_for
from rostersync.store.progress_tables import PHASES
from rostersync.store.runs import create_run
from rostersync.sync.events import CollectionPulled, Event, Mode, PhaseChanged, RunStarted
from rostersync.sync.pipeline import execute_sync
from rostersync.sync.recorder import ProgressRecorder

# With pages of ten, a pull of Springfield takes dozens of requests.
PAGE_SIZE = 10
# A loop that waits for a run gives up (and fails) after this long, instead of hanging.
PATIENCE = 240.0


@pytest.fixture(scope="module")
def world(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Springfield and Shelbyville, synced, with a vendor and a data manager for each."""
    tmp: Path = tmp_path_factory.mktemp("progress")
    settings = sandboxes.portal_settings(
        tmp,
        databases.new(),
        sso_timeout_seconds=2.0,
        page_size=PAGE_SIZE,
    )
    districts = [
        sandboxes.springfield(40),
        SandboxDistrict(
            slug="shelbyville",
            tenant_id="1002",
            display_name="Shelbyville SD – Shelbyville, IL",
            data=generate_district(students=10, seed=4, tenant="shelbyville"),
        ),
    ]
    with Sandbox(settings, districts) as sandbox:
        service = sandbox.service
        assert service is not None
        for email, role, district in (
            ("vendor@portal.example", "vendor_staff", None),
            ("dm@springfield.example", "data_manager", "springfield"),
            ("dm@shelbyville.example", "data_manager", "shelbyville"),
        ):
            service.staff.add_staff(
                email=email, display_name="Pat Staff", role=role, password=PASSWORD,
                district=district,
            )  # fmt: skip
        yield sandbox


@pytest.fixture(autouse=True)
def well_behaved_roster(world: Sandbox) -> Iterator[None]:
    """Each test starts with a prompt simulator and leaves no run behind."""
    world.roster.set_faults("springfield")
    yield
    world.roster.set_faults("springfield")
    assert world.service is not None
    for run in world.service.runs.recent("springfield", limit=5):
        if run.status == "running":
            wait_until_finished(world, run.id)


@contextmanager
def signed_in(world: Sandbox, email: str) -> Iterator[httpx.Client]:
    """A browser signed in as a staff member (a cookie jar that follows no redirects)."""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        csrf = form_csrf(client.get("/staff/login").text)
        response = client.post(
            "/staff/login", data={"email": email, "password": PASSWORD, "csrf": csrf}
        )
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture
def vendor(world: Sandbox) -> Iterator[httpx.Client]:
    with signed_in(world, "vendor@portal.example") as client:
        yield client


def api_csrf(client: httpx.Client) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/v1/session").json()["csrf_token"]}


def wait_until_finished(world: Sandbox, run_id: str) -> None:
    assert world.service is not None
    deadline = time.monotonic() + PATIENCE
    while world.service.runs.get(run_id).status == "running":
        assert time.monotonic() < deadline, f"run {run_id} did not finish"
        time.sleep(0.2)


def watch(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    """Poll a run's progress until it has finished; every answer, in order."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + PATIENCE
    while not (seen and seen[-1]["finished"]):
        assert time.monotonic() < deadline, f"run {run_id} did not finish"
        response = client.get(f"/api/v1/runs/{run_id}/progress")
        assert response.status_code == 200, response.text
        seen.append(response.json())
        time.sleep(0.2)
    return seen


@dataclass(eq=False)
class Hold:
    """One place a run is held: the first event `stop` picks."""

    stop: Callable[[Event], bool]
    held: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    # Records pulled by the run when it was held, in all.
    total: int = 0

    def wait(self) -> int:
        """Wait until the run is held here; the records it had pulled by then."""
        assert self.held.wait(PATIENCE), "the run never reached the held event"
        return self.total

    def release(self) -> None:
        self.go.set()


class Gate:
    """Holds the portal's runs at chosen events, right after the run page's recorder heard them.

    Holds are taken in the order they were asked for; each holds one run once.
    """

    def __init__(self) -> None:
        self.holds: list[Hold] = []
        self.pending: list[Hold] = []
        self.records: dict[str, int] = {}
        self._lock = threading.Lock()

    def hold_at(self, stop: Callable[[Event], bool]) -> Hold:
        hold = Hold(stop)
        with self._lock:
            self.holds.append(hold)
            self.pending.append(hold)
        return hold

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.records.clear()
        if isinstance(event, CollectionPulled):
            self.records[event.collection] = event.records
        with self._lock:
            hold = self.pending[0] if self.pending and self.pending[0].stop(event) else None
            if hold is not None:
                self.pending.pop(0)
        if hold is not None:
            hold.total = sum(self.records.values())
            hold.held.set()
            hold.go.wait(PATIENCE)

    def release_all(self) -> None:
        with self._lock:
            self.pending.clear()
        for hold in self.holds:
            hold.release()


def first_page_of(collection: str) -> Callable[[Event], bool]:
    """Picks the moment the first page of `collection` has arrived."""
    return lambda event: isinstance(event, CollectionPulled) and event.collection == collection


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """A gate every run of the portal passes, just after its progress recorder."""
    gate = Gate()
    heard = ProgressRecorder.__call__

    def hear(recorder: ProgressRecorder, event: Event) -> None:
        heard(recorder, event)
        gate(event)

    monkeypatch.setattr(ProgressRecorder, "__call__", hear)
    yield gate
    gate.release_all()


def progress_until(
    client: httpx.Client, run_id: str, shown: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Poll a (held) run's progress until `shown` holds for it; every answer, in order."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + PATIENCE
    while not (seen and shown(seen[-1])):
        assert time.monotonic() < deadline, f"run {run_id} never showed it: {seen[-1:]}"
        response = client.get(f"/api/v1/runs/{run_id}/progress")
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if not shown(seen[-1]):
            time.sleep(0.1)
    return seen


def start_held_preview(client: httpx.Client, gate: Gate) -> tuple[str, Hold]:
    """Start a preview of Springfield through the API, held once its first orgs arrived;
    returns its run id and where it is held."""
    hold = gate.hold_at(first_page_of("orgs"))
    response = client.post(
        "/api/v1/districts/springfield/runs", params={"mode": "preview"}, headers=api_csrf(client)
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "running"
    hold.wait()
    return str(response.json()["id"]), hold


class TestLiveProgress:
    """A run's progress is recorded while it runs, and read over HTTP before it ends."""

    def test_progress_rises_while_the_run_pulls_and_ends_done(
        self, world: Sandbox, vendor: httpx.Client, gate: Gate
    ) -> None:
        run_id, hold = start_held_preview(vendor, gate)
        seen: list[dict[str, Any]] = []
        # Held three times while it pulls: each time the page shows the records pulled so far.
        for after in ("courses", "users", None):
            total = hold.total
            seen += progress_until(
                vendor, run_id, lambda s, n=total: s["phase"] == "pulling" and s["total"] == n
            )
            held = hold
            if after is not None:
                hold = gate.hold_at(first_page_of(after))
            held.release()
            if after is not None:
                hold.wait()
        seen += watch(vendor, run_id)

        running = [s for s in seen if not s["finished"]]
        pulling = [s["total"] for s in running if s["phase"] == "pulling"]
        assert len(set(pulling)) >= 3, seen  # several different counts while it pulled
        assert pulling == sorted(pulling), pulling
        phases = [PHASES.index(s["phase"]) for s in seen if s["phase"] in PHASES]
        assert phases == sorted(phases), seen  # phases only move forward
        assert all(s["summary"] for s in seen)

        last = seen[-1]
        assert last["phase"] == "done" and last["status"] == "previewed"
        counts = world.service.runs.get(run_id).counts  # type: ignore[union-attr]
        assert last["records"] == counts["records_pulled"]
        assert last["total"] == sum(counts["records_pulled"].values()) >= max(pulling)

    def test_the_run_page_shows_the_last_progress_and_a_refresh_link_without_javascript(
        self, world: Sandbox, vendor: httpx.Client, gate: Gate
    ) -> None:
        run_id, hold = start_held_preview(vendor, gate)
        progress_until(vendor, run_id, lambda s: s["total"] != 0)
        page = vendor.get(f"/admin/runs/{run_id}")
        assert page.status_code == 200
        assert 'role="status" aria-live="polite"' in page.text
        assert "records so far" in page.text or "Pulled" in page.text
        assert f'<a href="/admin/runs/{run_id}" id="run-refresh">Refresh</a>' in page.text
        assert "run_progress.js" in page.text
        hold.release()
        watch(vendor, run_id)
        done = vendor.get(f"/admin/runs/{run_id}").text
        assert "run-refresh" not in done and "run_progress.js" not in done
        assert "Approve" in done and "records_pulled" in done

    def test_a_second_run_of_the_district_is_refused_while_one_runs(
        self, world: Sandbox, vendor: httpx.Client, gate: Gate
    ) -> None:
        run_id, hold = start_held_preview(vendor, gate)
        again = vendor.post(
            "/api/v1/districts/springfield/runs", params={"mode": "apply"}, headers=api_csrf(vendor)
        )
        assert again.status_code == 409 and "already running" in again.json()["detail"]
        hold.release()
        watch(vendor, run_id)


class TestPageButtons:
    """Preview and Sync now start the run in the background and send the person to watch it."""

    def test_preview_of_a_long_pull_returns_before_the_pull_ends(
        self, world: Sandbox, vendor: httpx.Client, gate: Gate
    ) -> None:
        hold = gate.hold_at(first_page_of("orgs"))
        csrf = form_csrf(vendor.get("/admin/districts/springfield").text)
        response = vendor.post("/admin/districts/springfield/preview", data={"csrf": csrf})
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.endswith("?done=started"), location
        run_id = location.split("/")[-1].split("?")[0]
        assert world.service is not None and world.service.runs.get(run_id).status == "running"
        assert "this page follows the run" in vendor.get(location).text
        hold.release()
        assert watch(vendor, run_id)[-1]["status"] == "previewed"

    def test_sync_now_applies_and_its_page_shows_the_counts(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        page = vendor.get("/admin/districts/springfield").text
        assert 'action="/admin/districts/springfield/sync"' in page
        response = vendor.post("/admin/districts/springfield/sync", data={"csrf": form_csrf(page)})
        assert response.status_code == 303
        run_id = response.headers["location"].split("/")[-1].split("?")[0]
        watch(vendor, run_id)
        assert world.service is not None
        run = world.service.runs.get(run_id)
        assert (run.mode, run.status) == ("apply", "succeeded")
        assert "records_pulled" in vendor.get(f"/admin/runs/{run_id}").text

    def test_approving_a_long_preview_returns_before_the_applying_run_ends(
        self, world: Sandbox, vendor: httpx.Client, gate: Gate
    ) -> None:
        assert world.service is not None
        previewed = world.service.runs.preview("springfield")
        assert previewed.status == "previewed"
        hold = gate.hold_at(first_page_of("orgs"))
        page = vendor.get(f"/admin/runs/{previewed.run_id}").text
        response = vendor.post(
            f"/admin/runs/{previewed.run_id}/approve", data={"csrf": form_csrf(page)}
        )
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.endswith("?done=started"), location
        applying = location.split("/")[-1].split("?")[0]
        assert applying != previewed.run_id
        assert world.service.runs.get(applying).status == "running"
        assert "this page follows the run" in vendor.get(location).text
        hold.release()
        assert watch(vendor, applying)[-1]["status"] == "succeeded"
        assert world.service.runs.get(previewed.run_id).status == "approved"

    def test_an_approval_whose_roster_changed_fails_its_run_and_its_page_says_why(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        assert world.service is not None
        previewed = world.service.runs.preview("springfield")
        tenant = world.roster.tenant("springfield")
        someone = next(u for u in tenant.data.users if u["role"] == "student")
        original = tenant.data
        edited = mutations.edit_users(original, [someone["sourcedId"]], at=datetime.now(UTC))
        tenant.data = edited.data
        try:
            page = vendor.get(f"/admin/runs/{previewed.run_id}").text
            response = vendor.post(
                f"/admin/runs/{previewed.run_id}/approve", data={"csrf": form_csrf(page)}
            )
            applying = response.headers["location"].split("/")[-1].split("?")[0]
            watch(vendor, applying)
            run = world.service.runs.get(applying)
            assert run.status == "failed" and run.error
            assert "preview again" in run.error
            assert html.escape(run.error) in vendor.get(f"/admin/runs/{applying}").text
            assert world.service.runs.get(previewed.run_id).status == "previewed"
        finally:
            tenant.data = original

    def test_sync_now_without_the_csrf_token_starts_nothing(
        self, world: Sandbox, vendor: httpx.Client
    ) -> None:
        assert world.service is not None
        before = len(world.service.runs.recent("springfield", limit=200))
        response = vendor.post("/admin/districts/springfield/sync", data={"csrf": "forged"})
        assert response.status_code == 403
        assert len(world.service.runs.recent("springfield", limit=200)) == before


class TestScoping:
    """Progress is scoped like every other page and API call."""

    def test_another_districts_data_manager_cannot_see_the_progress(
        self, world: Sandbox, vendor: httpx.Client, gate: Gate
    ) -> None:
        run_id, hold = start_held_preview(vendor, gate)
        with signed_in(world, "dm@shelbyville.example") as other:
            assert other.get(f"/api/v1/runs/{run_id}/progress").status_code == 404
            assert other.get(f"/admin/runs/{run_id}").status_code == 404
            start = other.post(
                "/api/v1/districts/springfield/runs",
                params={"mode": "apply"},
                headers=api_csrf(other),
            )
            assert start.status_code == 404
        with signed_in(world, "dm@springfield.example") as own:
            assert own.get(f"/api/v1/runs/{run_id}/progress").status_code == 200
        with httpx.Client(base_url=world.url) as anonymous:
            assert anonymous.get(f"/api/v1/runs/{run_id}/progress").status_code == 401
        hold.release()
        watch(vendor, run_id)


class TestPhases:
    """The recorder follows the real pipeline through every phase, in order, to done."""

    def test_a_preview_passes_through_each_phase_once(self, world: Sandbox) -> None:
        service = world.service
        assert service is not None
        district, integration = service.districts.get("springfield")
        recorder = ProgressRecorder(service.engine, district.id)
        phases: list[str] = []

        def log_phase(event: Event) -> None:
            if isinstance(event, PhaseChanged):
                phases.append(event.phase)

        report = execute_sync(
            service.engine,
            district_id=district.id,
            rules=rules_for(integration),
            source=service.runs.configured_source("springfield"),
            trigger="manual",
            observers=[recorder, log_phase],
            mode=Mode.PREVIEW,
        )
        assert recorder.run_id == report.run_id
        assert phases == ["pulling", "validating", "planning", "writing", "done"]
        progress = service.runs.progress(report.run_id)
        assert progress is not None and progress.phase == "done"
        assert progress.records == report.records_pulled


class TestProgressStore:
    """The progress row is written and read back alike on SQLite and PostgreSQL."""

    def test_saving_twice_keeps_one_row_with_the_newest_counts(
        self, conn: Connection, district: Any
    ) -> None:
        run_id = create_run(conn, district_id=district.id, trigger="manual", mode="preview")
        assert store_progress.get_progress(conn, run_id) is None
        now = datetime.now(UTC)
        for phase, records in (("pulling", {"orgs": 3}), ("validating", {"orgs": 3, "users": 9})):
            store_progress.save_progress(
                conn,
                run_id=run_id,
                district_id=district.id,
                phase=phase,
                collection=None,
                records=records,
                now=now,
            )
        found = store_progress.get_progress(conn, run_id)
        assert found is not None
        assert (found.phase, found.records, found.total) == ("validating", records, 12)

    def test_an_unknown_phase_is_refused(self, conn: Connection, district: Any) -> None:
        run_id = create_run(conn, district_id=district.id, trigger="manual", mode="preview")
        with pytest.raises(ValueError, match="phase 'resting' is not one of"):
            store_progress.save_progress(
                conn,
                run_id=run_id,
                district_id=district.id,
                phase="resting",
                collection=None,
                records={},
                now=datetime.now(UTC),
            )
