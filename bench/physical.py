"""The physical bound of a sync, written apart from the sync code.

    .venv/bin/python -m bench.physical parse --bundle district.zip
    .venv/bin/python -m bench.physical load --bundle district.zip --db-url sqlite:///scratch.db

What any sync of a bundle has to do at least, with nothing of rostersync's reading, mapping or
storing code (only the standard library and the database driver):

- parse: read every row of every CSV file of the bundle with the C `csv` reader, mapping nothing;
- parse_hash: the same, plus a 16-byte BLAKE2b content hash of each row, kept in memory
  (one `bytearray` of digests per file);
- load: bulk-load one row per hashed record (id, district, kind, sourced id, hash, payload)
  into an empty scratch table, then add its key on id and its unique (district, kind, sourced
  id) index: `COPY` through psycopg on PostgreSQL, one `executemany` transaction on SQLite.
  Building the rows (parsing, hashing, a random UUID per row) is not timed, only writing them,
  indexing and committing;
- rest_decode_hash: decode the same district's records from OneRoster JSON pages (1,000 records a
  page, as the OneRoster client asks for) and hash each record's JSON text. The pages are built
  from the simulator's streaming district between the timed decodes, one page at a time.

Each bound runs in a fresh process (`worker`), so its peak memory (`ru_maxrss`) is its own.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Rows built and then written at a time by the load bound, so the process stays small.
LOAD_CHUNK = 50_000
# Records per JSON page: the OneRoster client's default `limit`.
PAGE_SIZE = 1000
DIGEST_SIZE = 16
DISTRICT_ID = 1
# A separator that never occurs in a CSV field the bundle writer produces.
FIELD_SEPARATOR = "\x1f"
TABLE = "physical_rows"
# The 1.1 collections a REST pull reads, in the order the bundle lists them.
COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")


@dataclass
class Hashed:
    """A file's rows as the parse-and-hash bound keeps them: one digest per row, in order."""

    rows: int = 0
    digests: bytearray = field(default_factory=bytearray)


def csv_members(bundle: Path) -> list[str]:
    """The CSV files of a bundle, in the zip's order."""
    with zipfile.ZipFile(bundle) as archive:
        return [n for n in archive.namelist() if n.lower().endswith(".csv")]


def _rows(archive: zipfile.ZipFile, name: str) -> Iterator[list[str]]:
    """Every row of one member after its header, as the C reader splits it."""
    with archive.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        next(reader, None)
        yield from reader


def _header(archive: zipfile.ZipFile, name: str) -> list[str]:
    with archive.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        return next(csv.reader(text), [])


def parse(bundle: Path) -> dict[str, int]:
    """Parse every row of every CSV file; returns rows per file (header rows not counted)."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(bundle) as archive:
        for name in csv_members(bundle):
            counts[name] = sum(1 for _ in _rows(archive, name))
    return counts


def parse_hash(bundle: Path) -> dict[str, Hashed]:
    """Parse every row and keep a content hash of each, per file."""
    result: dict[str, Hashed] = {}
    with zipfile.ZipFile(bundle) as archive:
        for name in csv_members(bundle):
            hashed = result[name] = Hashed()
            digests, join = hashed.digests, FIELD_SEPARATOR.join
            for row in _rows(archive, name):
                digests += blake2b(join(row).encode(), digest_size=DIGEST_SIZE).digest()
            hashed.rows = len(digests) // DIGEST_SIZE
    return result


Row = tuple[str, int, str, str, bytes, str]


def keyed_rows(bundle: Path) -> Iterator[Row]:
    """One (id, district, kind, sourced id, hash, payload) row per row of a file with a
    `sourcedId` column; the kind is the file's name without `.csv`."""
    with zipfile.ZipFile(bundle) as archive:
        for name in csv_members(bundle):
            header = _header(archive, name)
            if "sourcedId" not in header:
                continue
            at, kind, join = header.index("sourcedId"), name[: -len(".csv")], FIELD_SEPARATOR.join
            for row in _rows(archive, name):
                payload = join(row)
                digest = blake2b(payload.encode(), digest_size=DIGEST_SIZE).digest()
                yield str(uuid.uuid4()), DISTRICT_ID, kind, row[at], digest, payload


def _chunks(rows: Iterator[Row]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == LOAD_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Loaded:
    """What the load bound wrote: seconds spent writing, indexing and committing, and rows."""

    seconds: float
    cpu_seconds: float
    rows: int


def load(bundle: Path, db_url: str) -> Loaded:
    """Bulk-load the bundle's keyed rows into an empty scratch table, then index it.

    Args:
        bundle: The OneRoster CSV bundle.
        db_url: `sqlite:///PATH` (a new file) or a PostgreSQL URL (`postgresql+psycopg://…`
            also accepted; an `options=-csearch_path=…` query picks the schema).
    """
    if db_url.startswith("sqlite:///"):
        return _load_sqlite(bundle, db_url.removeprefix("sqlite:///"))
    return _load_postgres(bundle, db_url.replace("postgresql+psycopg://", "postgresql://", 1))


class _Clock:
    """Wall and CPU seconds summed over the timed parts only."""

    def __init__(self) -> None:
        self.seconds = self.cpu = 0.0

    def timed(self, work: Callable[[], object]) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        work()
        self.seconds += time.perf_counter() - started
        self.cpu += time.process_time() - cpu


_COLUMNS = "id, district_id, kind, sourced_id, content_hash, payload"
_UNIQUE = f"CREATE UNIQUE INDEX {TABLE}_key ON {TABLE} (district_id, kind, sourced_id)"


def _load_sqlite(bundle: Path, path: str) -> Loaded:
    # The project's SQLite settings (WAL, synchronous=NORMAL); SQLite cannot add a primary key
    # to a table, so the id's key is a unique index built after loading like the other one.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        f"CREATE TABLE {TABLE} (id TEXT NOT NULL, district_id INTEGER NOT NULL, "
        "kind TEXT NOT NULL, sourced_id TEXT NOT NULL, content_hash BLOB NOT NULL, "
        "payload TEXT NOT NULL)"
    )
    clock, rows = _Clock(), 0
    insert = f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
    clock.timed(lambda: conn.execute("BEGIN"))
    for chunk in _chunks(keyed_rows(bundle)):
        rows += len(chunk)
        clock.timed(lambda c=chunk: conn.executemany(insert, c))  # type: ignore[misc]

    def finish() -> None:
        conn.execute(f"CREATE UNIQUE INDEX {TABLE}_pkey ON {TABLE} (id)")
        conn.execute(_UNIQUE)
        conn.execute("COMMIT")

    clock.timed(finish)
    conn.close()
    return Loaded(clock.seconds, clock.cpu, rows)


def _load_postgres(bundle: Path, conninfo: str) -> Loaded:
    import psycopg

    clock, rows = _Clock(), 0
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f"CREATE TABLE {TABLE} (id text NOT NULL, district_id integer NOT NULL, "
            "kind text NOT NULL, sourced_id text NOT NULL, content_hash bytea NOT NULL, "
            "payload text NOT NULL)"
        )
        conn.commit()
        with conn.cursor() as cursor:
            for chunk in _chunks(keyed_rows(bundle)):
                rows += len(chunk)

                def write(c: list[Row] = chunk) -> None:
                    with cursor.copy(f"COPY {TABLE} ({_COLUMNS}) FROM STDIN") as copy:
                        for row in c:
                            copy.write_row(row)

                clock.timed(write)

        def finish() -> None:
            conn.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
            conn.execute(_UNIQUE)
            conn.commit()

        clock.timed(finish)
    return Loaded(clock.seconds, clock.cpu, rows)


def json_pages(students: int, seed: int) -> Iterator[bytes]:
    """The district's records as OneRoster JSON pages (`{"users": [...]}`), one at a time."""
    from rostersync.simulator.stream import StreamingDistrict

    district = StreamingDistrict(students=students, seed=seed)
    for name in COLLECTIONS:
        page: list[Any] = []
        for record in district.collection(name):
            page.append(record)
            if len(page) == PAGE_SIZE:
                yield json.dumps({name: page}).encode()
                page = []
        if page:
            yield json.dumps({name: page}).encode()


@functools.cache
def decoder_name() -> str:
    """The JSON decoder the REST bound uses: msgspec when installed, else the standard one."""
    try:
        import msgspec  # noqa: F401
    except ImportError:
        return "json"
    return "msgspec"


def decode_hash_page(page: bytes, digests: bytearray) -> int:
    """Decode one page's records and append each record's hash; returns how many records.

    With msgspec, each record's own JSON text is hashed and then decoded; with the standard
    decoder the page is decoded and each record re-encoded to be hashed.
    """
    if decoder_name() == "msgspec":
        return _decode_hash_msgspec(page, digests)
    envelope = json.loads(page)
    count = 0
    for records in envelope.values():
        for record in records:
            text = json.dumps(record, separators=(",", ":")).encode()
            digests += blake2b(text, digest_size=DIGEST_SIZE).digest()
            count += 1
    return count


def _decode_hash_msgspec(page: bytes, digests: bytearray) -> int:
    import msgspec

    envelope = msgspec.json.decode(page, type=dict[str, list[msgspec.Raw]])
    decode, count = msgspec.json.decode, 0
    for records in envelope.values():
        for raw in records:
            digests += blake2b(raw, digest_size=DIGEST_SIZE).digest()
            decode(raw)
            count += 1
    return count


def rest_decode_hash(students: int, seed: int) -> tuple[float, float, int, int]:
    """Time decoding and hashing the district's JSON pages, building each page untimed.

    Returns:
        (wall seconds, CPU seconds, records, pages).
    """
    clock, digests, counts = _Clock(), bytearray(), [0, 0]

    def one(page: bytes) -> None:
        counts[0] += decode_hash_page(page, digests)
        counts[1] += 1

    decoder_name()  # imported before timing
    for page in json_pages(students, seed):
        clock.timed(lambda p=page: one(p))  # type: ignore[misc]
    return clock.seconds, clock.cpu, counts[0], counts[1]


# Worker ----------------------------------------------------------------------------------------

TASKS = ("parse", "parse_hash", "load", "rest_decode_hash")


def run_task(task: str, args: argparse.Namespace) -> dict[str, Any]:
    """One bound, timed; returns {"seconds", "cpu_seconds", "detail"}."""
    bundle = Path(args.bundle)
    if task == "load":
        loaded = load(bundle, args.db_url)
        return {"seconds": loaded.seconds, "cpu_seconds": loaded.cpu_seconds,
                "detail": {"rows": loaded.rows}}  # fmt: skip
    if task == "rest_decode_hash":
        seconds, cpu, records, pages = rest_decode_hash(args.students, args.seed)
        detail = {"records": records, "pages": pages, "decoder": decoder_name()}
        return {"seconds": seconds, "cpu_seconds": cpu, "detail": detail}
    started, cpu_started = time.perf_counter(), time.process_time()
    if task == "parse":
        rows: dict[str, int] = parse(bundle)
    else:
        rows = {name: h.rows for name, h in parse_hash(bundle).items()}
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu, "detail": {"rows": rows}}


def measure(
    task: str, bundle: Path, *, db_url: str = "", students: int = 0, seed: int = 0
) -> dict[str, Any]:
    """Run one bound in a fresh child process; returns its figures and peak RSS in MB."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "bench.physical", task, "--bundle", str(bundle)]
        command += [f"--db-url={db_url}", "--students", str(students), "--seed", str(seed)]
        command += ["--out", out.name]
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
    return result


def peak_rss_kb() -> int:
    """This process's peak resident memory in kB since it started.

    Linux's `VmHWM` belongs to the program now running; `ru_maxrss` also counts the parent's
    memory at the fork that started it, so it is only the fallback where there is no /proc.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str] | None = None) -> int:
    """Run one bound and print (or write, with `--out`) its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.physical", description=__doc__)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--db-url", default="")
    parser.add_argument("--students", type=int, default=0, help="rest_decode_hash: the district")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="write the figures here instead of printing them")
    args = parser.parse_args(argv)
    if args.task == "load" and not args.db_url:
        parser.error("load needs --db-url")
    result = run_task(args.task, args)
    result["max_rss_kb"] = peak_rss_kb()
    text = json.dumps(result)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
