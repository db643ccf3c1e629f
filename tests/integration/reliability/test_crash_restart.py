"""Crash-restart: a sync killed with SIGKILL in any phase never keeps its district locked.

Each test starts a real `rostersync` process, lets it reach a phase (pulling, validating,
planning, writing), kills it with SIGKILL, and starts the next sync at once: that sync must take
over within 30 seconds, mark the killed run `abandoned` with the phase it had reached, and end
in exactly the state a clean sync reaches (the same rows, the same content hashes, none twice).
Nothing the killed run pulled is ever written. SQLite and PostgreSQL; see docs/decisions/0020.
"""

from __future__ import annotations

import time

import pytest
from tests.integration.reliability.processes import (
    PHASES,
    RESTART_WITHIN_SECONDS,
    CrashWorld,
    Snapshot,
    kill,
    wait_for,
)

TENANT = "north"
SEED = 41


def _empty(snapshot: Snapshot) -> bool:
    return all(not rows for rows in snapshot.values())


def kill_then_resync(world: CrashWorld, phase: str, first: list[str], then: list[str]) -> str:
    """Kill `rostersync <first>` at `phase`, run `rostersync <then>`; returns the phase the
    killed run had recorded."""
    victim = world.start(first, pause=phase, name="victim")
    world.paused(victim, phase)
    killed = world.running_run()
    recorded = world.recorded_phase()
    before = world.snapshot()
    kill(victim)
    # Nothing the killed run pulled was written.
    assert world.snapshot() == before
    started = time.monotonic()
    again = world.start(then, name="again")
    wait_for(
        lambda: any(run_id != killed for run_id, _, _ in world.runs()),
        seconds=RESTART_WITHIN_SECONDS,
        what="the next sync to start",
    )
    assert time.monotonic() - started < RESTART_WITHIN_SECONDS
    assert again.wait(timeout=120) == 0, world.output("again")
    assert recorded is not None
    return recorded


@pytest.mark.parametrize("phase", PHASES)
def test_a_sync_killed_in_any_phase_is_taken_over_and_the_next_sync_ends_as_a_clean_one(
    world: CrashWorld, clean: Snapshot, phase: str
) -> None:
    recorded = kill_then_resync(
        world, phase, ["sync", TENANT, "--json"], ["sync", TENANT, "--json"]
    )
    (_, killed_status, error), (_, status, _) = world.runs()
    assert (killed_status, status) == ("abandoned", "succeeded")
    assert error is not None and f"while {recorded}" in error and "nothing" in error
    assert world.lock_row() is None
    assert world.snapshot() == clean


def test_a_preview_killed_while_planning_leaves_nothing_and_the_next_preview_runs(
    world: CrashWorld,
) -> None:
    kill_then_resync(world, "planning", ["preview", TENANT, "--json"], ["preview", TENANT])
    assert [status for _, status, _ in world.runs()] == ["abandoned", "previewed"]
    assert _empty(world.snapshot())
    assert world.lock_row() is None


def test_an_approval_killed_while_writing_is_taken_over_and_approving_again_applies_it(
    world: CrashWorld, clean: Snapshot
) -> None:
    preview = world.portal.runs.preview(TENANT)
    approve = ["approve", preview.run_id, "--json"]
    kill_then_resync(world, "writing", approve, approve)
    statuses = [status for _, status, _ in world.runs()]
    assert statuses == ["approved", "abandoned", "succeeded"]
    assert world.snapshot() == clean


def test_a_delta_killed_while_writing_is_taken_over_and_the_next_delta_succeeds(
    world: CrashWorld, clean: Snapshot
) -> None:
    assert world.portal.runs.sync(TENANT).status == "succeeded"
    kill_then_resync(world, "writing", ["delta", TENANT, "--json"], ["delta", TENANT, "--json"])
    statuses = [status for _, status, _ in world.runs()]
    assert statuses == ["succeeded", "abandoned", "succeeded"]
    assert world.snapshot() == clean
