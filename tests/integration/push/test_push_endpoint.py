"""`POST /api/v1/districts/{slug}/bundles` over real HTTP, on SQLite and PostgreSQL.

A good push is stored, recorded and synced; every refusal (credentials, size, a malformed
bundle, a push while one waits) writes nothing: no bundle row, no file, no run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog
from sqlalchemy import func, select
from tests.integration.push.conftest import LIMIT, PushWorld, bundle_of
from tests.unit.oneroster.bundle_helpers import make_zip, manifest, members

from rostersync.errors import ConfigError
from rostersync.jobs.queue import JobQueue, make_huey
from rostersync.jobs.scheduler import tick
from rostersync.services import PENDING_SOURCE_KIND, Questionnaire
from rostersync.simulator import DistrictData
from rostersync.store.bundle_vault import Unsealed
from rostersync.store.push_tables import pushed_bundles
from rostersync.store.tables import audit_log, sync_runs

ZIP = {"Content-Type": "application/zip"}


def students_in(data: DistrictData) -> int:
    return sum(1 for u in data.users if u["role"] == "student")


def push(client: httpx.Client, slug: str, body: bytes) -> httpx.Response:
    return client.post(f"/api/v1/districts/{slug}/bundles", content=body, headers=ZIP)


def assert_nothing_written(world: PushWorld) -> None:
    """No bundle row, no run, no stored or half-received file for any district."""
    with world.service.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(pushed_bundles)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(sync_runs)).scalar() == 0
    pushed = world.service.settings.data_dir / "pushed"
    assert [p for p in pushed.rglob("*") if p.is_file()] == []


class TestGoodPush:
    """A valid bundle is answered 202, kept under its id, synced, and its status URL says so."""

    def test_push_syncs_the_roster(
        self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData
    ) -> None:
        with world.client("ogden") as client:
            response = push(client, "ogden", ogden_bundle)
            assert response.status_code == 202, response.text
            body = response.json()
            assert response.headers["location"] == body["status_url"]
            assert body["status_url"] == f"/api/v1/districts/ogden/bundles/{body['id']}"
            status = client.get(body["status_url"])
        assert status.status_code == 200
        found = status.json()
        assert found["status"] == "succeeded" and found["run_id"]
        assert found["sha256"] == hashlib.sha256(ogden_bundle).hexdigest()
        assert found["size"] == len(ogden_bundle)
        run = world.service.runs.get(found["run_id"])
        assert (run.status, run.trigger) == ("succeeded", "push")
        counts = world.service.districts.counts("ogden")
        assert counts["students"]["active"] == students_in(ogden_data)
        assert world.service.districts.counts("provo")["students"]["active"] == 0
        folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
        # Kept sealed with the key ring, never in clear (decision 0022), and it reads back whole.
        sealed = folder / f"{body['id']}.zip.sealed"
        assert [p.name for p in folder.iterdir()] == [sealed.name]
        assert ogden_bundle[:64] not in sealed.read_bytes()
        with Unsealed(sealed, world.service.box, label=body["id"]) as opened:
            assert opened.path().read_bytes() == ogden_bundle
        with world.service.engine.connect() as conn:
            actions = conn.execute(
                select(audit_log.c.action, audit_log.c.actor).where(
                    audit_log.c.entity_id == body["id"]
                )
            ).all()
        assert [tuple(a) for a in actions] == [("bundle_pushed", f"push:{world.keys['ogden'][0]}")]

    def test_a_multipart_file_field_is_accepted(
        self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData
    ) -> None:
        with world.client("ogden") as client:
            response = client.post(
                "/api/v1/districts/ogden/bundles",
                files={"file": ("oneroster.zip", ogden_bundle, "application/zip")},
                data={"note": "nightly export"},
            )
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "succeeded"
        assert response.json()["sha256"] == hashlib.sha256(ogden_bundle).hexdigest()
        assert world.service.districts.counts("ogden")["students"]["active"] == students_in(
            ogden_data
        )

    def test_a_later_bundle_is_synced_after_the_first_finished(
        self, world: PushWorld, ogden_data: DistrictData, ogden_bundle: bytes
    ) -> None:
        """A finished bundle does not block the next push; the newest one is what syncs."""
        with world.client("ogden") as client:
            assert push(client, "ogden", ogden_bundle).status_code == 202
            fewer = without_students(ogden_data, students_in(ogden_data) - 1)
            second = push(client, "ogden", bundle_of(fewer))
        assert second.status_code == 202, second.text
        assert second.json()["status"] == "succeeded"
        counts = world.service.districts.counts("ogden")["students"]
        assert counts == {"active": students_in(ogden_data) - 1, "inactive": 1}


def without_students(data: DistrictData, leave: int) -> DistrictData:
    """The district with only its first `leave` students (and their enrollments)."""
    students = [u for u in data.users if u["role"] == "student"]
    gone = {u["sourcedId"] for u in students[leave:]}
    return DistrictData(
        tenant=data.tenant,
        seed=data.seed,
        orgs=data.orgs,
        academicSessions=data.academicSessions,
        courses=data.courses,
        classes=data.classes,
        users=[u for u in data.users if u["sourcedId"] not in gone],
        enrollments=[e for e in data.enrollments if e["user"]["sourcedId"] not in gone],
    )


class TestHeldPush:
    """A bundle whose sync a safeguard holds is reported `held`, and nothing is deactivated."""

    def test_a_mass_deactivation_is_held(
        self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData
    ) -> None:
        with world.client("ogden") as client:
            assert push(client, "ogden", ogden_bundle).json()["status"] == "succeeded"
            response = push(client, "ogden", bundle_of(without_students(ogden_data, 10)))
            assert response.status_code == 202, response.text
            found = client.get(response.json()["status_url"]).json()
        assert found["status"] == "held" and found["error"] is None
        assert world.service.runs.get(found["run_id"]).status == "held"
        counts = world.service.districts.counts("ogden")["students"]
        assert counts == {"active": students_in(ogden_data), "inactive": 0}

    def held(self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData) -> str:
        """Push the district, then a bundle that drops all but 10 students; its status URL."""
        with world.client("ogden") as client:
            assert push(client, "ogden", ogden_bundle).json()["status"] == "succeeded"
            response = push(client, "ogden", bundle_of(without_students(ogden_data, 10)))
        url: str = response.json()["status_url"]
        return url

    def test_approving_its_run_applies_it_and_the_bundle_succeeds(
        self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData
    ) -> None:
        url = self.held(world, ogden_bundle, ogden_data)
        with world.client("ogden") as client:
            held_run = client.get(url).json()["run_id"]
            report = world.service.runs.approve(held_run, actor="support@vendor.example")
            found = client.get(url).json()
        assert report.status == "succeeded"
        assert found["status"] == "succeeded" and found["error"] is None
        assert found["run_id"] == report.run_id != held_run
        counts = world.service.districts.counts("ogden")["students"]
        assert counts == {"active": 10, "inactive": students_in(ogden_data) - 10}

    def test_discarding_its_run_discards_the_bundle(
        self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData
    ) -> None:
        url = self.held(world, ogden_bundle, ogden_data)
        with world.client("ogden") as client:
            held_run = client.get(url).json()["run_id"]
            world.service.runs.discard(held_run, actor="support@vendor.example")
            found = client.get(url).json()
        assert found["status"] == "discarded" and found["run_id"] == held_run
        assert found["finished_at"] is not None
        counts = world.service.districts.counts("ogden")["students"]
        assert counts == {"active": students_in(ogden_data), "inactive": 0}


class TestCredentials:
    """Only the district's own current key and secret may push; every failure is one 401."""

    @pytest.mark.parametrize(
        "auth",
        [
            None,
            ("rsk_unknown", "rss_whatever"),
            "wrong-secret",
            "provo-key",
        ],
    )
    def test_refused_with_www_authenticate(
        self, world: PushWorld, ogden_bundle: bytes, auth: object
    ) -> None:
        key, secret = world.keys["ogden"]
        if auth == "wrong-secret":
            auth = (key, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
        elif auth == "provo-key":
            auth = world.keys["provo"]
        client = httpx.Client(base_url=world.url, auth=auth, timeout=30)  # type: ignore[arg-type]
        with client:
            response = push(client, "ogden", ogden_bundle)
            status = client.get("/api/v1/districts/ogden/bundles/nope")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith('Basic realm="rostersync push"')
        assert status.status_code == 401
        assert_nothing_written(world)

    def test_a_rotated_away_secret_is_refused_at_once(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        old = world.keys["ogden"]
        world.service.push.rotate_credentials("ogden", "ops@vendor.example")
        with httpx.Client(base_url=world.url, auth=old, timeout=30) as client:
            assert push(client, "ogden", ogden_bundle).status_code == 401
        assert_nothing_written(world)

    def test_another_districts_key_cannot_read_its_bundles(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        with world.client("ogden") as client:
            bundle_id = push(client, "ogden", ogden_bundle).json()["id"]
        with world.client("provo") as client:
            assert client.get(f"/api/v1/districts/ogden/bundles/{bundle_id}").status_code == 401
            # Its own slug with another district's bundle id is simply not there.
            assert client.get(f"/api/v1/districts/provo/bundles/{bundle_id}").status_code == 404


class TestRefusals:
    """Too large, not a bundle, malformed or unsupported: refused with how to fix, nothing kept."""

    def test_a_declared_size_over_the_limit_is_413(self, world: PushWorld) -> None:
        with world.client("ogden") as client:
            response = push(client, "ogden", b"\0" * (LIMIT + 1))
        assert response.status_code == 413
        assert response.json()["limit_bytes"] == LIMIT
        assert str(LIMIT) in response.json()["detail"]
        assert_nothing_written(world)

    def test_a_streamed_body_over_the_limit_is_413(self, world: PushWorld) -> None:
        def chunks() -> Iterator[bytes]:
            for _ in range(LIMIT // 4096 + 2):
                yield b"\0" * 4096

        with world.client("ogden") as client:
            # A generator body goes chunked, with no Content-Length to refuse it up front.
            response = client.post("/api/v1/districts/ogden/bundles", content=chunks(), headers=ZIP)
        assert response.status_code == 413
        assert_nothing_written(world)

    def test_a_ragged_row_is_422_with_file_and_line(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        files = members(ogden_bundle)
        lines = files["users.csv"].decode().split("\r\n")
        lines[2] = lines[2] + ",extra"
        files["users.csv"] = "\r\n".join(lines).encode()
        with world.client("ogden") as client:
            response = push(client, "ogden", make_zip(files))
        assert response.status_code == 422
        body = response.json()
        assert (body["file"], body["line"]) == ("users.csv", 3)
        assert "users.csv line 3" in body["detail"] and "quote cells" in body["detail"]
        assert_nothing_written(world)

    def test_a_missing_declared_file_is_422(self, world: PushWorld) -> None:
        bundle = make_zip({"manifest.csv": manifest(users="bulk")})
        with world.client("ogden") as client:
            response = push(client, "ogden", bundle)
        assert response.status_code == 422
        assert response.json()["file"] == "users.csv"
        assert "add the file" in response.json()["detail"]
        assert_nothing_written(world)

    def test_not_a_zip_empty_and_wrong_type(self, world: PushWorld) -> None:
        with world.client("ogden") as client:
            garbage = push(client, "ogden", b"sourcedId,givenName\r\n1,Ann\r\n")
            empty = push(client, "ogden", b"")
            csv = client.post(
                "/api/v1/districts/ogden/bundles",
                content=b"a,b",
                headers={"Content-Type": "text/csv"},
            )
            no_file = client.post(
                "/api/v1/districts/ogden/bundles", files={"note": (None, b"no zip here")}
            )
            broken_form = client.post(
                "/api/v1/districts/ogden/bundles",
                content=b"this is not a form",
                headers={"Content-Type": "multipart/form-data; boundary=xyz"},
            )
        assert broken_form.status_code == 400 and "malformed" in broken_form.json()["detail"]
        assert garbage.status_code == 422 and "not a readable zip" in garbage.json()["detail"]
        # The refusal speaks of the bundle the district sent, not of our working file's name.
        assert garbage.json()["detail"].startswith("the bundle is not a readable zip")
        assert ".incoming-" not in garbage.text and ".part" not in garbage.text
        assert empty.status_code == 422
        assert csv.status_code == 415 and "application/zip" in csv.json()["detail"]
        assert no_file.status_code == 422 and "`file` field" in no_file.json()["detail"]
        assert_nothing_written(world)


class TestOneWaitingBundle:
    """While a district's bundle waits in the queue, another push is 409; a worker then runs it."""

    def test_second_push_is_refused_until_the_queue_runs_the_first(
        self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData
    ) -> None:
        settings = world.service.settings
        # A queue that only stores messages until a worker takes them, as in production.
        queue = JobQueue(settings, huey=make_huey(settings), service=world.service, periodic=False)
        world.service.push.use_queue(queue)
        with world.client("ogden") as client:
            first = push(client, "ogden", ogden_bundle)
            assert first.status_code == 202 and first.json()["status"] == "queued"
            second = push(client, "ogden", ogden_bundle)
            assert second.status_code == 409
            assert second.headers["retry-after"]
            assert second.json()["status_url"] == first.json()["status_url"]
            # Another district is not held up by this one.
            with world.client("provo") as provo:
                assert push(provo, "provo", bundle_of(ogden_data)).status_code == 202
            task = queue.huey.dequeue()
            assert task is not None
            queue.huey.execute(task)
            done = client.get(first.json()["status_url"]).json()
        assert done["status"] == "succeeded" and done["run_id"]
        assert world.service.districts.counts("ogden")["students"]["active"] == students_in(
            ogden_data
        )
        with world.service.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(pushed_bundles)).scalar() == 2


class TestNoSecretsInLogs:
    """Neither the push secret nor its encrypted form reaches a log line."""

    def test_issue_push_rotate_and_refusals_log_no_secret(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        with structlog.testing.capture_logs() as events:
            key, secret = world.service.push.rotate_credentials("ogden", "ops@vendor.example")
            with httpx.Client(base_url=world.url, auth=(key, secret), timeout=60) as client:
                assert push(client, "ogden", ogden_bundle).status_code == 202
            with httpx.Client(base_url=world.url, auth=(key, secret + "x"), timeout=60) as client:
                assert push(client, "ogden", ogden_bundle).status_code == 401
        text = repr(events)
        assert events, "the push logged nothing at all"
        assert secret not in text and secret[4:20] not in text
        assert {"push_key.rotated", "push.accepted"} <= {e["event"] for e in events}


class TestSyncingAPushDistrict:
    """`run_sync` on a push district uses its newest bundle, and says what to do without one."""

    def test_no_bundle_yet_then_the_newest(
        self, world: PushWorld, ogden_bundle: bytes, ogden_data: DistrictData
    ) -> None:
        with pytest.raises(ConfigError, match="POST /api/v1/districts/ogden/bundles"):
            world.service.runs.sync("ogden")
        with world.client("ogden") as client:
            assert push(client, "ogden", ogden_bundle).status_code == 202
        report = world.service.runs.sync("ogden")
        assert report.status == "succeeded"
        assert report.change_count == 0  # the same bundle again: nothing to change
        assert world.service.districts.counts("ogden")["students"]["active"] == students_in(
            ogden_data
        )


class TestScheduler:
    """The tick never schedules push or pending districts; other districts are unaffected."""

    def test_push_and_pending_districts_are_skipped(self, world: PushWorld) -> None:
        service = world.service
        for slug, kind in (("ogden-rest", "oneroster-1.1"), ("logan", PENDING_SOURCE_KIND)):
            service.districts.add(
                Questionnaire(
                    slug=slug,
                    name=slug,
                    display_name=slug,
                    city="Logan",
                    state="UT",
                    source_kind=kind,
                    source_url="https://oneroster.example/ims/oneroster/v1p1"
                    if "rest" in slug
                    else "",
                    key="k" if "rest" in slug else "",
                    secret="s" if "rest" in slug else "",
                )
            )
        sent = tick(service, datetime.now(UTC) + timedelta(days=3), enqueue=lambda *_a: None)
        assert [s.slug for s in sent] == ["ogden-rest"]


def test_the_scheduler_and_the_service_agree_on_the_kinds() -> None:
    from rostersync.jobs.scheduler import UNSCHEDULED_SOURCE_KINDS
    from rostersync.services import PUSH_SOURCE_KIND

    assert set(UNSCHEDULED_SOURCE_KINDS) == {PUSH_SOURCE_KIND, PENDING_SOURCE_KIND}
