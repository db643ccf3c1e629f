"""Accepted bundles at rest (decision 0022): sealed with the key ring, private, read back whole,
deleted after the retention period, and removed by the district purge.

The sealed format is exercised on real files: altered, cut short, reordered or moved between
bundles, it is refused; its memory stays flat whatever the bundle's size (measured with
`tracemalloc` against a one-chunk baseline in the same test).
"""

from __future__ import annotations

import os
import stat
import struct
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from tests.integration.push.conftest import PushWorld

from rostersync.errors import ConfigError
from rostersync.jobs.queue import RETENTION_TASK, JobQueue, make_huey
from rostersync.store.bundle_vault import (
    CHUNK,
    MAGIC,
    SEALED_SUFFIX,
    SealedBundleError,
    Unsealed,
    seal,
    unseal_to,
)
from rostersync.store.push_tables import pushed_bundles
from rostersync.store.secrets import SecretBox
from rostersync.store.tables import audit_log

ZIP = {"Content-Type": "application/zip"}


def push(world: PushWorld, slug: str, body: bytes) -> str:
    with world.client(slug) as client:
        response = client.post(f"/api/v1/districts/{slug}/bundles", content=body, headers=ZIP)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key().decode()])


class TestSealedFormat:
    """Chunks are authenticated, numbered, bound to their bundle, and the last is marked."""

    def sealed(self, tmp_path: Path, box: SecretBox, size: int) -> tuple[bytes, Path]:
        data = os.urandom(size)
        plain = tmp_path / "plain.zip"
        plain.write_bytes(data)
        sealed = tmp_path / f"b-1{SEALED_SUFFIX}"
        seal(plain, sealed, box, label="b-1")
        return data, sealed

    def records(self, sealed: Path) -> tuple[bytes, list[bytes]]:
        raw = sealed.read_bytes()
        assert raw.startswith(MAGIC)
        pos, records = len(MAGIC), []
        while pos < len(raw):
            (length,) = struct.unpack_from(">I", raw, pos)
            records.append(raw[pos : pos + 4 + length])
            pos += 4 + length
        return MAGIC, records

    @pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 2 * CHUNK + 17])
    def test_a_sealed_bundle_reads_back_byte_for_byte(
        self, tmp_path: Path, box: SecretBox, size: int
    ) -> None:
        data, sealed = self.sealed(tmp_path, box, size)
        assert mode(sealed) == 0o600
        if size > 64:
            assert data[:64] not in sealed.read_bytes()
        with Unsealed(sealed, box, label="b-1") as opened:
            clear = opened.path()
            assert mode(clear) == 0o600
            assert clear.read_bytes() == data
        assert not clear.exists()

    @pytest.mark.parametrize(
        "damage",
        ["flip", "drop_last", "swap", "cut", "trailing"],
    )
    def test_an_altered_bundle_is_refused(
        self, tmp_path: Path, box: SecretBox, damage: str
    ) -> None:
        _data, sealed = self.sealed(tmp_path, box, 2 * CHUNK + 5)
        magic, records = self.records(sealed)
        if damage == "flip":
            raw = bytearray(sealed.read_bytes())
            raw[len(magic) + 40] ^= 0x01
            body = bytes(raw)
        elif damage == "drop_last":
            body = magic + b"".join(records[:-1])
        elif damage == "swap":
            body = magic + b"".join([records[1], records[0], *records[2:]])
        elif damage == "cut":
            body = sealed.read_bytes()[:-100]
        else:
            body = sealed.read_bytes() + records[-1]
        sealed.write_bytes(body)
        out = tmp_path / "out.zip"
        with pytest.raises(SealedBundleError):
            unseal_to(sealed, out, box, label="b-1")
        assert not out.exists()

    def test_a_bundle_moved_under_another_id_is_refused(
        self, tmp_path: Path, box: SecretBox
    ) -> None:
        _data, sealed = self.sealed(tmp_path, box, 100)
        with pytest.raises(SealedBundleError, match="another bundle"):
            unseal_to(sealed, tmp_path / "out.zip", box, label="b-2")

    def test_key_rotation_keeps_bundles_readable_while_the_old_key_is_listed(
        self, tmp_path: Path
    ) -> None:
        old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        data, sealed = self.sealed(tmp_path, SecretBox([old]), 1000)
        unseal_to(sealed, tmp_path / "a.zip", SecretBox([new, old]), label="b-1")
        assert (tmp_path / "a.zip").read_bytes() == data
        with pytest.raises(SealedBundleError, match="ROSTERSYNC_SECRET_KEYS"):
            unseal_to(sealed, tmp_path / "b.zip", SecretBox([new]), label="b-1")

    def test_memory_stays_flat_whatever_the_size(self, tmp_path: Path, box: SecretBox) -> None:
        def peak(action: Callable[[], object]) -> int:
            tracemalloc.start()
            try:
                action()
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

        def round_trip(size: int) -> Callable[[], None]:
            plain = tmp_path / f"p{size}"
            plain.write_bytes(os.urandom(size))
            sealed = tmp_path / f"s{size}{SEALED_SUFFIX}"

            def action() -> None:
                seal(plain, sealed, box, label="b-1")
                unseal_to(sealed, tmp_path / f"o{size}", box, label="b-1")

            return action

        baseline = peak(round_trip(3 * CHUNK))
        big = peak(round_trip(30 * CHUNK))
        # A chunk at a time: ten times the data costs no more (whole, it would be 27 MiB more).
        assert big < baseline + CHUNK, (big, baseline)


class TestPushedBundlesAtRest:
    def test_an_accepted_bundle_is_sealed_private_and_no_clear_copy_stays(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        bundle_id = push(world, "ogden", ogden_bundle)
        folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
        assert mode(folder) == 0o700
        (kept,) = list(folder.iterdir())
        assert kept.name == f"{bundle_id}{SEALED_SUFFIX}"
        assert mode(kept) == 0o600
        assert kept.read_bytes().startswith(MAGIC)
        assert ogden_bundle[:64] not in kept.read_bytes()
        # A resync reads the sealed bundle and leaves no clear copy behind.
        report = world.service.runs.sync("ogden")
        assert report.status == "succeeded", report.error
        assert [p.name for p in folder.iterdir()] == [kept.name]

    def test_retention_deletes_old_bundles_keeps_their_record_and_says_so(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        bundle_id = push(world, "ogden", ogden_bundle)
        folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
        now = datetime.now(UTC)
        early = world.service.push.expire(now=now + timedelta(days=29))
        assert early.count == 0
        assert [p.name for p in folder.iterdir()] == [f"{bundle_id}{SEALED_SUFFIX}"]
        late = world.service.push.expire(now=now + timedelta(days=31))
        assert late.deleted == {world.ids["ogden"]: [bundle_id]}
        assert list(folder.iterdir()) == []
        assert world.service.push.bundle("ogden", bundle_id).status == "succeeded"
        with world.service.engine.connect() as conn:
            actions = conn.execute(
                select(audit_log.c.action, audit_log.c.actor).where(
                    audit_log.c.entity_id == bundle_id
                )
            ).all()
        assert ("bundle_expired", "retention") in [tuple(a) for a in actions]
        with pytest.raises(ConfigError, match="retention period"):
            world.service.runs.sync("ogden")

    def test_a_waiting_bundle_is_never_expired_and_crash_leftovers_are(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        bundle_id = push(world, "ogden", ogden_bundle)
        with world.service.engine.begin() as conn:
            conn.execute(
                update(pushed_bundles)
                .where(pushed_bundles.c.id == bundle_id)
                .values(status="queued")
            )
        folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
        stale, fresh = folder / ".open-old.zip", folder / ".incoming-new.part"
        stale.write_bytes(b"clear")
        fresh.write_bytes(b"clear")
        two_days_ago = time.time() - 2 * 86400
        os.utime(stale, (two_days_ago, two_days_ago))
        swept = world.service.push.expire(now=datetime.now(UTC) + timedelta(days=90))
        assert swept.count == 0 and swept.leftovers == 1
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{bundle_id}{SEALED_SUFFIX}", fresh.name]
        )

    def test_a_clear_bundle_from_before_sealing_is_read_then_sealed(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        bundle_id = push(world, "ogden", ogden_bundle)
        folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
        sealed = folder / f"{bundle_id}{SEALED_SUFFIX}"
        sealed.unlink()
        (folder / f"{bundle_id}.zip").write_bytes(ogden_bundle)
        assert world.service.runs.sync("ogden").status == "succeeded"
        swept = world.service.push.expire()
        assert swept.sealed == 1
        assert [p.name for p in folder.iterdir()] == [sealed.name]
        assert world.service.runs.sync("ogden").status == "succeeded"

    def test_the_worker_runs_retention_periodically(self, world: PushWorld) -> None:
        settings = world.service.settings
        queue = JobQueue(settings, huey=make_huey(settings, immediate=True), service=world.service)
        assert queue.expire_bundles is not None
        assert queue.expire_bundles.name == RETENTION_TASK
        assert queue._expire_bundles() == 0

    def test_the_district_purge_removes_its_bundles(
        self, world: PushWorld, ogden_bundle: bytes
    ) -> None:
        push(world, "ogden", ogden_bundle)
        folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
        assert any(folder.iterdir())
        disposal = world.service.privacy.purge_district(
            "ogden", confirm="ogden", actor="ops@vendor.example", reason="contract ended"
        )
        assert disposal.files == {"pushed bundles": 1}
        assert not folder.exists()
        with world.client("provo") as client:
            assert client.get("/api/v1/districts/provo/bundles/x").status_code == 404


def test_the_push_endpoint_keeps_nothing_in_clear_after_a_refusal(
    world: PushWorld, ogden_bundle: bytes
) -> None:
    with world.client("ogden") as client:
        response = client.post(
            "/api/v1/districts/ogden/bundles", content=ogden_bundle[:-30], headers=ZIP
        )
    assert response.status_code == 422
    folder = world.service.settings.data_dir / "pushed" / world.ids["ogden"]
    assert list(folder.iterdir()) == []
    assert isinstance(response, httpx.Response)


def test_the_cli_expires_bundles_past_the_retention_setting(
    world: PushWorld, ogden_bundle: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from rostersync.cli.main import app
    from rostersync.config import get_settings

    bundle_id = push(world, "ogden", ogden_bundle)
    with world.service.engine.begin() as conn:
        conn.execute(
            update(pushed_bundles)
            .where(pushed_bundles.c.id == bundle_id)
            .values(received_at=datetime.now(UTC) - timedelta(days=3))
        )
    settings = world.service.settings
    for name, value in {
        "ROSTERSYNC_DATA_DIR": str(settings.data_dir),
        "ROSTERSYNC_DATABASE_URL": settings.database_url,
        "ROSTERSYNC_SECRET_KEYS": settings.secret_keys,
        "ROSTERSYNC_LOG_FORMAT": "json",
        "ROSTERSYNC_PUSHED_BUNDLE_RETENTION_DAYS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["pushed-bundles", "expire", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.stdout
    assert '"deleted": 1' in result.stdout and '"retention_days": 2' in result.stdout
    folder = settings.data_dir / "pushed" / world.ids["ogden"]
    assert list(folder.iterdir()) == []
