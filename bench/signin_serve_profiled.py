"""`rostersync serve` (one process) with every thread under cProfile, timed by its own CPU clock.

    .venv/bin/python -m bench.signin_processes --workers 1 --logins 400 --profile /tmp/serve.prof
    .venv/bin/python -m pstats /tmp/serve.prof    # then: sort cumulative / stats 40

Started by `bench.signin_processes --profile PATH` in place of `rostersync serve --workers 1`,
configured by the same environment. The event loop's thread and each thread uvicorn runs a sync
route in get a profiler of their own (`threading.setprofile`), timed by `time.thread_time`, so
the figures are each thread's CPU, not the time it waited; at Ctrl-C they are merged into one
pstats file. Profiling makes everything about four times slower: read it for proportions.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from rostersync.config import get_settings
from rostersync.logs import configure_logging
from rostersync.web.server import UVICORN_OPTIONS

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _profile_this_thread(_frame: FrameType, _event: str, _arg: Any) -> None:
    # Called once in each new thread, before its target: replaces itself with a profiler.
    profile = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(profile)
    profile.enable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signin_serve_profiled")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    configure_logging(get_settings())
    threading.setprofile(_profile_this_thread)
    main_thread = cProfile.Profile(time.thread_time)
    main_thread.enable()
    try:
        uvicorn.run(
            "rostersync.cli.commands_web:portal_app",
            factory=True,
            host="127.0.0.1",
            port=args.port,
            **UVICORN_OPTIONS,
        )
    finally:
        main_thread.disable()
        stats = pstats.Stats(main_thread)
        with _lock:
            for profile in _profiles:
                profile.create_stats()
                stats.add(profile)
        stats.dump_stats(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
