"""Write a streamed district as a OneRoster CSV bundle, and report time, counts and peak memory.

    .venv/bin/python -m bench.generate_bundle --students 1000000 --out /tmp/district.zip

The district comes from `StreamingDistrict`, written by `write_bundle` one row at a time, so peak
memory should stay flat whatever `--students` is. Peak RSS is this process's own
`resource.getrusage(RUSAGE_SELF).ru_maxrss` (kilobytes on Linux).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from rostersync.simulator.bundle_writer import write_bundle
from rostersync.simulator.stream import StreamingDistrict


def main(argv: list[str] | None = None) -> int:
    """Generate, write and report; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench.generate_bundle", description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tenant", default="springfield")
    parser.add_argument("--version", choices=["1.1", "1.2"], default="1.1")
    parser.add_argument(
        "--renamed-every",
        type=int,
        default=0,
        help="add '-Delta' to the family name of every Nth student (100 = 1%%)",
    )
    parser.add_argument("--out", type=Path, required=True, help="path of the zip to write")
    args = parser.parse_args(argv)

    district = StreamingDistrict(
        students=args.students,
        seed=args.seed,
        tenant=args.tenant,
        renamed_every=args.renamed_every,
    )
    sizes = district.sizes()
    started = time.perf_counter()
    write_bundle(district, args.out, version=args.version)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = args.out.stat().st_size / 1024 / 1024

    print(f"students          {args.students:,}")
    for name, count in sizes.items():
        print(f"{name:<18}{count:,}")
    print(f"elapsed           {elapsed:.1f} s")
    print(f"peak RSS          {peak_mb:.0f} MB")
    print(f"zip size          {size_mb:.0f} MB  ({args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
