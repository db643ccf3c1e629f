"""A big bundle's enrollments, read into the spool by a helper process while the run reads the rest.

Reading and mapping a district's enrollments is most of its pull: six million rows for a million
students. One Python process uses one core, so the run starts a helper that reads
enrollments.csv into the run's spool (`sync.enrollments`), while the run itself reads, validates,
matches and plans schools, classes and people on the other core. The enrollment plan then reads
each chunk of the spool as soon as the helper has written it, and the rest as if the run had
filled it.

The helper is a fresh interpreter (`python -m rostersync.sync.enrollment_reader`), not a fork:
the run may hold database connections and threads, which a fork would copy half-way. It inherits
two descriptors, the spool's unnamed file and a pipe; it reads the bundle itself, by its path,
under the same limits, turns the rows into spool rows as the run would (`sync.enrollment_rows`),
and reports through the pipe where each
chunk ends as soon as it is written, then what `SpoolFilled` holds and what the bundle reader
found (rows, encoding, ignored columns). A refused
enrollments.csv comes back as the same `BundleError`, with its file and line. Nothing of a
student's goes to the helper's output or to a log.

Only bundles on disk whose enrollments.csv is at least `ASIDE_BYTES` are read this way: starting
an interpreter costs a few tenths of a second, which only a big file repays.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from rostersync.errors import RetriableSourceError
from rostersync.oneroster.bundle import Bundle, BundleError, BundleLimits
from rostersync.sync.enrollment_rows import bundle_rows
from rostersync.sync.enrollments import EnrollmentSpool, SpoolFilled

__all__ = ["ASIDE_BYTES", "EnrollmentReader", "ReaderStats"]

MB = 1024 * 1024
# enrollments.csv of at least this many bytes (about 160,000 enrollments) is read aside.
ASIDE_BYTES = 16 * MB


@dataclass(frozen=True, slots=True)
class ReaderStats:
    """What the helper's bundle reader found in enrollments.csv."""

    records: int
    rows: int
    encoding: str | None
    ignored_columns: tuple[str, ...]


class EnrollmentReader:
    """A helper process filling `spool` with the enrollments of the bundle at `path`."""

    def __init__(self, path: Path, limits: BundleLimits, spool: EnrollmentSpool) -> None:
        read_end, write_end = os.pipe()
        command = [sys.executable, "-m", __name__, str(path), str(spool.fileno), str(write_end)]
        command += [str(spool.chunk), json.dumps(asdict(limits))]
        # The helper imports rostersync from where this process did.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            # Our own module, run by this interpreter, with arguments we made.
            self._process = subprocess.Popen(  # noqa: S603
                command,
                pass_fds=(spool.fileno, write_end),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self._reports: IO[bytes] | None = os.fdopen(read_end, "rb")
        # The helper's last message, once read: what it spooled, or what stopped it.
        self._outcome: tuple[Any, ...] | None = None
        self.stats: ReaderStats | None = None

    def written(self) -> Iterator[int]:
        """Where each chunk the helper writes ends, as it is written, until it is done."""
        while self._outcome is None and self._reports is not None:
            try:
                # Only ever what our own helper wrote to its pipe (below).
                message = pickle.load(self._reports)  # noqa: S301
            except (EOFError, pickle.UnpicklingError):
                message = ("died",)
            if message[0] == "chunk":
                yield message[1]
            else:
                self._outcome = message

    def result(self) -> SpoolFilled:
        """Wait for the helper; what it spooled, or what stopped it, raised here.

        Raises:
            BundleError: enrollments.csv was refused (file, line and column as the reader said).
            RetriableSourceError: The helper stopped without reporting (killed, out of memory).
        """
        for _end in self.written():
            pass  # chunks nobody read as they came are read from the offsets reported last
        outcome = self._outcome
        if outcome is None or self._reports is None:
            raise RuntimeError("the enrollment reader's result was already taken")
        self._reports.close()
        self._reports = None
        code = self._process.wait()
        if outcome[0] == "died":
            raise RetriableSourceError(
                f"reading the bundle's enrollments stopped unexpectedly (the helper process "
                f"exited with {code}); nothing was written: run the sync again"
            )
        if outcome[0] == "refused":
            _kind, message, file, line, column = outcome
            raise BundleError(message, file=file, line=line, column=column)
        if outcome[0] == "failed":
            raise RetriableSourceError(
                f"reading the bundle's enrollments failed ({outcome[1]}); nothing was written: "
                "run the sync again"
            )
        _kind, filled, stats = outcome
        self.stats = stats
        assert isinstance(filled, SpoolFilled)
        return filled

    def cancel(self) -> None:
        """Stop the helper if it still runs (the run failed or ended first)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._reports is not None:
            self._reports.close()
            self._reports = None


def _read(
    path: str, spool_fd: int, chunk: int, limits: BundleLimits, report: IO[bytes]
) -> tuple[object, ...]:
    def written(end: int) -> None:
        pickle.dump(("chunk", end), report)
        report.flush()

    spool = EnrollmentSpool(chunk, file=os.fdopen(spool_fd, "r+b"), on_flush=written)
    try:
        records = 0
        with Bundle(path, limits=limits) as bundle:
            for row in bundle_rows(bundle):
                records += 1
                spool.add_row(row)
            found = bundle.stats
        offsets = spool.flush()
        filled = SpoolFilled(
            offsets=tuple(offsets),
            count=spool.count,
            issues=tuple(spool.issues),
            repeated=frozenset(spool.repeated()),
        )
        stats = ReaderStats(
            records=records,
            rows=found.rows.get("enrollments", 0),
            encoding=found.encodings.get("enrollments.csv"),
            ignored_columns=found.ignored_columns.get("enrollments.csv", ()),
        )
        return ("filled", filled, stats)
    except BundleError as exc:
        return ("refused", str(exc), exc.file, exc.line, exc.column)
    except Exception as exc:  # reported to the run by its type only, never with data
        return ("failed", type(exc).__name__)
    finally:
        spool.close()


def main(argv: list[str]) -> int:
    path, spool_fd, report_fd, chunk, limits = argv
    with os.fdopen(int(report_fd), "wb") as report:
        settings = BundleLimits(**json.loads(limits))
        outcome = _read(path, int(spool_fd), int(chunk), settings, report)
        pickle.dump(outcome, report)
    return 0


if __name__ == "__main__":
    # Run from the module's importable self, so what it pickles names this module, not __main__.
    from rostersync.sync import enrollment_reader

    raise SystemExit(enrollment_reader.main(sys.argv[1:]))
