"""The ClassLink SSO stand-in in a process of its own, for the sign-in benchmark.

    .venv/bin/python -m bench.signin_sso --students 400 --districts 2 \
        --client-secret S --redirect-uri http://127.0.0.1:8123/oauth/callback

Serves the same generated districts as `bench.sign_in_load.sandbox_districts` (the generator is
deterministic), with one registered client, the portal. It prints `url <issuer>` once it listens,
then answers one command per line on standard input:

    rotate    replace the signing key (the old one leaves the JWKS); answers `rotated <kid>`
    stats     answers `jwks <JWKS requests> tokens <token requests>`

and stops when standard input closes.
"""

from __future__ import annotations

import argparse
import sys

from bench.sign_in_load import sandbox_districts
from rostersync.simulator import sso as _sso
from rostersync.simulator.sso import SsoClient, SsoServer, SsoTenant

CLIENT_ID = "educator-portal"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signin_sso", description=__doc__)
    parser.add_argument("--students", type=int, default=400, help="per district")
    parser.add_argument("--districts", type=int, default=2)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    args = parser.parse_args(argv)
    # socketserver listens with a backlog of 5: dozens of browsers connecting at once would be
    # reset by this process's kernel queue, not refused by the portal. This process only.
    _sso._HTTPServer.request_queue_size = 1024
    sso = SsoServer(clients=[SsoClient(CLIENT_ID, args.client_secret, args.redirect_uri)])
    for district in sandbox_districts(args.students, args.districts):
        sso.add_tenant(SsoTenant(district.tenant_id, district.display_name, district.data))
    with sso:
        print(f"url {sso.url}", flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "rotate":
                print(f"rotated {sso.rotate_keys()}", flush=True)
            elif command == "stats":
                tokens = sum(sso.token_requests.values())
                print(f"jwks {sso.jwks_requests} tokens {tokens}", flush=True)
            else:
                print(f"unknown {command[:20]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
