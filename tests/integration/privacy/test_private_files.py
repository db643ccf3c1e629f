"""Everything rostersync creates under its data folder is readable by its owner only, whatever
the umask: the portal database and its -wal/-shm, the queue database and its own, the
development key, pushed bundles, outbox messages.

A real process runs with umask 000 (the loosest there is) and does what a first run does: makes
the key, migrates the database, takes a sync into the queue, writes an email, seals a bundle.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIRST_RUN = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from email.message import EmailMessage
    from pathlib import Path

    from rostersync.config import Settings
    from rostersync.jobs.queue import JobQueue
    from rostersync.notify.senders import OutboxSender
    from rostersync.services import Services
    from rostersync.store.push_files import district_folder, keep

    data = Path(sys.argv[1])
    settings = Settings(data_dir=data)
    service = Services(settings)
    service.init_db()
    with service.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # WAL: the -wal and -shm files exist while open
        queue = JobQueue(settings, service=service, periodic=False)
        queue.enqueue_sync("d-1", datetime.now(UTC), "manual")
        message = EmailMessage()
        message["Subject"] = "s"
        message.set_content("t")
        OutboxSender(settings.resolved_outbox_dir).send(message)
        folder = district_folder(data, "d-1")
        upload = folder / ".incoming-1.part"
        upload.write_bytes(b"PK")
        keep(service.box, upload, folder, "b-1")
        found = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
        print("\\n".join(found))
    """
)


def test_a_first_run_under_umask_000_creates_nothing_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "var"
    result = subprocess.run(
        [sys.executable, "-c", FIRST_RUN, str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0),
        env={k: v for k, v in os.environ.items() if not k.startswith("ROSTERSYNC_")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = set(result.stdout.split())
    for expected in (
        "rostersync.db",
        "rostersync.db-wal",
        "rostersync.db-shm",
        "rostersync-queue.db",
        "secret.key",
        "outbox",
        "pushed/d-1/b-1.zip.sealed",
    ):
        assert expected in listed, (expected, sorted(listed))
    assert any(name.endswith(".eml") for name in listed)
    loose = {
        str(path.relative_to(data)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in [data, *data.rglob("*")]
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    }
    assert loose == {}


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_existing_loose_database_files_are_tightened(tmp_path: Path, suffix: str) -> None:
    from rostersync.store.db import private_database

    database = tmp_path / "portal.db"
    loose = tmp_path / f"portal.db{suffix}"
    loose.write_bytes(b"")
    loose.chmod(0o644)
    private_database(database)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
