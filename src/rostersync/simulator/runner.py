"""Run the simulator in the foreground until Ctrl-C (behind `rostersync simulate`)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from rostersync.simulator.faults import Fault, FaultPlan
from rostersync.simulator.generator import generate_district
from rostersync.simulator.server import SimulatorServer
from rostersync.simulator.tenant import Tenant


def run_forever(
    *,
    host: str,
    port: int,
    students: int,
    seed: int,
    bad_records: bool,
    tenant: str,
    key: str,
    secret: str,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
    faults: Sequence[Fault] = (),
    quirks: bool = False,
) -> None:
    """Generate a district, serve it, print where, and block until Ctrl-C.

    The secret is deliberately not printed: whoever started the simulator chose it.

    Args:
        host: Address to bind (keep loopback unless you mean to expose test data).
        port: Port to bind; 0 picks a free one.
        students: Number of students to generate.
        seed: Generator seed; the same seed serves the same district.
        bad_records: Plant the generator's documented bad records.
        tenant: Tenant name, the first path segment of the base URL.
        key: OAuth consumer key to accept.
        secret: OAuth consumer secret to verify with.
        stop: Return when this event is set (for embedding and tests) instead of waiting for
            Ctrl-C only.
        out: Where to print; stdout by default.
        faults: Misbehaviour to serve (`rostersync.simulator.faults`), e.g. `parse_fault("503")`.
        quirks: Answer the way ClassLink does (`rostersync.simulator.quirks`).
    """
    stream = out if out is not None else sys.stdout
    data = generate_district(students=students, seed=seed, bad_records=bad_records, tenant=tenant)
    done = stop if stop is not None else threading.Event()
    served = Tenant(tenant, data, key, secret, quirks=quirks, faults=FaultPlan(list(faults)))
    with SimulatorServer([served], host=host, port=port) as server:
        print(f"OneRoster base URL: {server.base_url(tenant)}", file=stream)
        print(f"OAuth consumer key: {key}", file=stream)
        print(f"Tenant: {tenant}", file=stream)
        if faults or quirks:
            kinds = ", ".join(f.kind for f in faults) or "none"
            print(f"Faults: {kinds}; ClassLink quirks: {'on' if quirks else 'off'}", file=stream)
        counts = ", ".join(f"{n} {kind}" for kind, n in data.counts().items())
        print(f"Serving {counts}. Press Ctrl-C to stop.", file=stream, flush=True)
        try:
            # A timed wait keeps the main thread responsive to Ctrl-C on every platform.
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("Stopping.", file=stream, flush=True)
