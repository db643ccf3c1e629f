"""The fleet benchmark's ClassLink: one simulator serving many districts, counting every request.

    python -m bench.fleet_server --sizes 500,1200,... --seed 11

Each district `fNNN` (key `key-fNNN`, secret `secret-fNNN`) is a generated district of the given
number of students. The server is the oracle of "the shared budget was never exceeded": it stamps
each request's arrival (Unix seconds) with its tenant, in its own process, before answering it.

It prints one JSON line `{"url": ...}` once it serves, then reads commands on stdin:
`stamps PATH` writes the stamps so far to PATH as JSON (`[[seconds, tenant], ...]`) and prints
`ok`; end of input stops it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.simulator.router import Router


def tenant_name(index: int) -> str:
    """The simulator tenant (and district slug) of the fleet's `index`th district."""
    return f"f{index:03d}"


def credentials(name: str) -> tuple[str, str]:
    """The OAuth 1.0a key and secret of a tenant."""
    return f"key-{name}", f"secret-{name}"


class StampingRouter:
    """A router that notes when each request arrived, and for which tenant, then answers it."""

    def __init__(self, router: Router) -> None:
        self._router = router
        # (Unix seconds, tenant); list.append is atomic, the handler threads share it.
        self.stamps: list[tuple[float, str]] = []

    def handle(self, method: str, path: str, *rest: Any) -> Any:
        self.stamps.append((time.time(), path.lstrip("/").partition("/")[0]))
        return self._router.handle(method, path, *rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._router, name)


class StampingSimulator(SimulatorServer):
    """The simulator, with every request stamped on arrival (`stamps`)."""

    stamping: StampingRouter | None = None

    def _make_httpd(self) -> Any:
        httpd = super()._make_httpd()
        self.stamping = StampingRouter(httpd.router)
        httpd.router = self.stamping
        return httpd

    @property
    def stamps(self) -> list[tuple[float, str]]:
        return list(self.stamping.stamps) if self.stamping is not None else []


def fleet_tenants(sizes: list[int], seed: int) -> list[Tenant]:
    """One generated tenant per district size."""
    tenants = []
    for index, students in enumerate(sizes):
        name = tenant_name(index)
        key, secret = credentials(name)
        data = generate_district(students=students, seed=seed + index, tenant=name)
        tenants.append(Tenant(name=name, data=data, key=key, secret=secret))
    return tenants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_server", description=__doc__)
    parser.add_argument("--sizes", required=True, help="comma-separated students per district")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with StampingSimulator(fleet_tenants(sizes, args.seed)) as server:
        print(json.dumps({"url": server.url}), flush=True)
        for line in sys.stdin:
            command, _, rest = line.strip().partition(" ")
            if command == "stamps":
                Path(rest).write_text(json.dumps(server.stamps))
                print("ok", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
