"""Where a login's CPU goes in the portal: cProfile over the sign-in service calls in one thread,
with the ClassLink stand-in in its own process (`bench.signin_sso`).

    .venv/bin/python -m bench.signin_profile --logins 300 [--postgres URL] [--top 40]

The same steps the routes take, minus HTTP: `begin_sign_in` (as /login/start), the simulator's
authorize form over HTTP (not profiled: another process), `finish_sign_in` (as the callback),
then `viewer` and `home` (as GET /, less its template). Prints the functions with the
most cumulative and own time, the SQL statements per login (counted with an engine event) and
the portal-side CPU milliseconds per login.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import secrets
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import event

from bench.sign_in_load import _database, people_of, sandbox_districts
from bench.signin_processes import CLIENT_ID, Simulator, unambiguous
from rostersync.config import Settings
from rostersync.demo.sandbox import Sandbox
from rostersync.services import Services
from rostersync.signin.portal import SignedIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signin_profile", description=__doc__)
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--students", type=int, default=200, help="per district")
    parser.add_argument("--postgres", metavar="URL", default=None)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--plain", action="store_true", help="no profiler: only the CPU ms and statements"
    )
    args = parser.parse_args(argv)
    from rostersync.logs import configure_logging

    configure_logging(Settings(log_format="json", log_level="WARNING"))
    with (
        tempfile.TemporaryDirectory(prefix="rs-profile-") as tmp,
        _database(Path(tmp), args.postgres) as url,
    ):
        keys = Fernet.generate_key().decode()
        base = Settings(data_dir=Path(tmp), database_url=url, secret_keys=keys,
                        log_format="json", log_level="WARNING")  # fmt: skip
        with Sandbox(base, sandbox_districts(args.students, 2)) as sandbox:
            people = unambiguous(people_of(sandbox))
            district_ids = dict(sandbox.district_ids)
        portal_url = "http://127.0.0.1:9"  # never called: the redirect URI only
        secret = secrets.token_urlsafe(24)
        sso = Simulator(args.students, 2, secret, f"{portal_url}/oauth/callback")
        settings = base.model_copy(
            update={
                "classlink_issuer": sso.url,
                "classlink_client_id": CLIENT_ID,
                "classlink_client_secret": secret,
                "classlink_userinfo_url": f"{sso.url}/v2/my/info",
                "portal_base_url": portal_url,
                "session_cookie_secure": False,
            }
        )
        service = Services(settings)
        statements = 0

        def count(*_: object) -> None:
            nonlocal statements
            statements += 1

        event.listen(service.engine, "before_cursor_execute", count)
        browser = httpx.Client(timeout=30)
        profile = cProfile.Profile(time.process_time)  # CPU, not waits
        cpu = 0.0
        try:
            for i in range(args.logins + 20):
                person = people[i % len(people)]
                warm = i < 20  # the first logins fetch discovery and keys, fill the pools
                binding = secrets.token_urlsafe(32)
                if not warm and not args.plain:
                    profile.enable()
                began = time.process_time()
                url = service.signin.begin_sign_in(
                    district_id=district_ids[person.district_slug], binding=binding
                )
                cpu += time.process_time() - began
                profile.disable()
                query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
                picked = browser.post(
                    url.split("?")[0],
                    data={**query, "person": f"{person.tenant_id}:{person.sourced_id}"},
                )
                code = parse_qs(urlsplit(picked.headers["location"]).query)["code"][0]
                if warm:
                    statements, cpu = 0, 0.0
                elif not args.plain:
                    profile.enable()
                began = time.process_time()
                done = service.signin.finish_sign_in(
                    code=code, state=query["state"], binding=binding
                )
                assert isinstance(done, SignedIn)
                viewer = service.signin.viewer(done.session_token)
                assert viewer is not None
                home = service.signin.home(viewer)
                cpu += time.process_time() - began
                profile.disable()
                assert home.viewer.person.given_name in person.display_name
        finally:
            browser.close()
            service.close()
            sso.stop()
    if not args.plain:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    print(f"SQL statements per login: {statements / args.logins:.1f}")
    how = "unprofiled" if args.plain else "profiled"
    print(f"portal CPU ms per login (service calls, {how}): {cpu * 1000 / args.logins:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
