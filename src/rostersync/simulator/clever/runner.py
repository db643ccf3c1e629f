"""Run the Clever simulator until Ctrl-C (behind `rostersync simulate --provider clever`)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from rostersync.simulator.clever.server import CleverSimulator
from rostersync.simulator.faults import Fault
from rostersync.simulator.generator import generate_district

DEMO_SECRET = "demo-secret"  # noqa: S105 - the loopback demo's well-known default, not a credential


def run_forever(
    *,
    host: str,
    port: int,
    students: int,
    seed: int,
    bad_records: bool,
    tenant: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
    faults: Sequence[Fault] = (),
    quirks: bool = False,
) -> None:
    """Generate a district, serve it as a Clever district connected to one app, block until Ctrl-C.

    A client secret the user chose is not echoed; the demo default is, so the output is enough to
    connect.

    Args:
        host: Address to bind (keep loopback unless you mean to expose test data).
        port: Port to bind; 0 picks a free one.
        students: Number of students to generate.
        seed: Generator seed; the same seed serves the same district (and the same Clever ids).
        bad_records: Plant the generator's documented bad records (those Clever can express).
        tenant: Tenant name; the district's Clever id is derived from it.
        client_id: The app's client id.
        client_secret: The app's client secret.
        redirect_uri: The app's registered redirect URI (also where Portal launches go).
        stop: Return when this event is set (for embedding and tests).
        out: Where to print; stdout by default.
        faults: Misbehaviour for the district's API (`rostersync.simulator.faults`).
        quirks: Serve the district the way real ones differ (`simulator.clever.quirks`).
    """
    stream = out if out is not None else sys.stdout
    data = generate_district(students=students, seed=seed, bad_records=bad_records, tenant=tenant)
    done = stop if stop is not None else threading.Event()
    with CleverSimulator(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=[redirect_uri],
        host=host,
        port=port,
    ) as server:
        district_id = server.add_district(data)
        if faults:
            server.set_faults(district_id, *faults)
        server.set_quirks(district_id, quirks)
        shown = client_secret if client_secret == DEMO_SECRET else "(the --secret you gave)"
        print(f"Clever base URL: {server.url}", file=stream)
        print(f"Client id: {client_id}", file=stream)
        print(f"Client secret: {shown}", file=stream)
        print(f"District id: {district_id}", file=stream)
        print(f"Redirect URI: {redirect_uri}", file=stream)
        if faults:
            print(f"Faults: {', '.join(f.kind for f in faults)}", file=stream)
        counts = ", ".join(f"{n} {kind}" for kind, n in data.counts().items())
        print(f"Serving {counts}. Press Ctrl-C to stop.", file=stream, flush=True)
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("Stopping.", file=stream, flush=True)
