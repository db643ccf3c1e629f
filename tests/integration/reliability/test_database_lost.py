"""The database going away mid-run (PostgreSQL): a clear error, the run failed, the lock free.

A real `rostersync sync` process waits at `writing`, inside its write transaction, while the test
either terminates every backend it has (`pg_terminate_backend`) or takes the database away
altogether (a loopback forwarder between them goes down, and comes back a moment later). Then
the sync goes on. It must print one clear line (JSON with `--json`), never a traceback; leave
nothing half-written; record its run as failed once the database answers; and free the
district's lock, advisory lock included.
"""

from __future__ import annotations

import json
import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.integration.reliability.processes import (
    CrashWorld,
    wait_for,
)
from tests.integration.reliability.tcp_proxy import TcpProxy

from rostersync.store.locks import advisory_key

TENANT = "lakeside"
SEED = 61
LOST = "the portal database stopped answering during the sync"

pytestmark = pytest.mark.parametrize("databases", ["postgresql"], indirect=True)


def _url(world: CrashWorld, **query: str) -> str:
    url = make_url(world.values["database_url"])
    return url.update_query_dict(query).render_as_string(hide_password=False)


def _assert_failed_cleanly(world: CrashWorld) -> None:
    ((_, status, error),) = world.runs()
    assert status == "failed"
    assert error is not None and LOST in error
    assert world.lock_row() is None
    assert all(not rows for rows in world.snapshot().values())  # nothing half-written
    with world.engine.connect() as conn:  # the advisory lock is free too
        key = advisory_key(world.district_id)
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.rollback()


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_terminated_backend_mid_apply_fails_the_run_with_one_clear_line(
    world: CrashWorld, as_json: bool
) -> None:
    name = f"rs-lost-{secrets.token_hex(4)}"
    args = ["sync", TENANT, *(["--json"] if as_json else [])]
    proc = world.start(
        args, pause="writing", ROSTERSYNC_DATABASE_URL=_url(world, application_name=name)
    )
    world.paused(proc, "writing")
    with world.engine.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": name},
        ).scalar()
        conn.commit()
    assert ended and ended >= 2  # the run's writer and its lock's own connection
    world.marker("writing").unlink()
    assert proc.wait(timeout=120) == 2
    out, err = world.output()
    assert "Traceback" not in out + err
    if as_json:
        assert json.loads(out)["error"]["type"] == "DatabaseUnavailable"
        assert LOST in json.loads(out)["error"]["message"]
    else:
        said = " ".join((out + err).split())  # however the terminal wraps it
        assert said.count("Error:") == 1 and f"Error: {LOST}" in said, out + err
    _assert_failed_cleanly(world)


def test_an_outage_mid_apply_is_recorded_as_failed_once_the_database_is_back(
    world: CrashWorld,
) -> None:
    url = make_url(world.values["database_url"])
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        proc = world.start(
            ["sync", TENANT, "--json"],
            pause="writing",
            ROSTERSYNC_DATABASE_URL=proxied.render_as_string(hide_password=False),
        )
        world.paused(proc, "writing")
        proxy.down()
        world.marker("writing").unlink()
        # The run keeps trying to record its failure while the database is away.
        wait_for(
            lambda: '"db.retrying"' in world.output()[1] or proc.poll() is not None,
            seconds=60,
            what="the sync to retry recording its failure",
        )
        assert proc.poll() is None, world.output()
        proxy.up()
        assert proc.wait(timeout=120) == 2, world.output()
    finally:
        proxy.down()
    out, err = world.output()
    assert "Traceback" not in out + err
    assert json.loads(out)["error"]["type"] == "DatabaseUnavailable"
    _assert_failed_cleanly(world)
