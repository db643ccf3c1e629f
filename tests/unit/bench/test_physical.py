"""The physical bound counts every row of the bundle and loads exactly those rows, keyed once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from bench import physical
from bench.report import markdown, physical_ratios, ratios, summary

from rostersync.simulator.bundle_writer import write_bundle
from rostersync.simulator.stream import StreamingDistrict

STUDENTS, SEED = 120, 5


@pytest.fixture(scope="module")
def district() -> StreamingDistrict:
    return StreamingDistrict(students=STUDENTS, seed=SEED)


@pytest.fixture(scope="module")
def bundle(district: StreamingDistrict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("physical") / "district.zip"
    write_bundle(district, path)
    return path


def manifest_rows(bundle: Path) -> int:
    return physical.parse(bundle)["manifest.csv"]


class TestParse:
    """Every row of every CSV file is read, header rows aside."""

    def test_it_counts_every_record_of_each_collection(
        self, bundle: Path, district: StreamingDistrict
    ) -> None:
        rows = physical.parse(bundle)
        assert {name.removesuffix(".csv"): n for name, n in rows.items()} == {
            **district.sizes(),
            "manifest": manifest_rows(bundle),
        }

    def test_hashing_keeps_one_digest_per_row(self, bundle: Path) -> None:
        hashed = physical.parse_hash(bundle)
        assert {name: h.rows for name, h in hashed.items()} == physical.parse(bundle)
        for h in hashed.values():
            assert len(h.digests) == h.rows * physical.DIGEST_SIZE

    def test_rows_that_differ_hash_differently(self, bundle: Path) -> None:
        users = physical.parse_hash(bundle)["users.csv"].digests
        digests = {bytes(users[i : i + 16]) for i in range(0, len(users), 16)}
        assert len(digests) == len(users) // 16


class TestLoad:
    """The scratch table holds one row per record, unique on (district, kind, sourced id)."""

    def test_sqlite_loads_exactly_the_records_with_unique_keys(
        self, bundle: Path, district: StreamingDistrict, tmp_path: Path
    ) -> None:
        path = tmp_path / "scratch.db"
        loaded = physical.load(bundle, f"sqlite:///{path}")
        records = sum(district.sizes().values())
        assert loaded.rows == records
        conn = sqlite3.connect(path)
        try:
            table = physical.TABLE
            kinds = dict(conn.execute(f"SELECT kind, count(*) FROM {table} GROUP BY kind"))  # noqa: S608
            assert kinds == district.sizes()
            keys = conn.execute(
                f"SELECT count(*) FROM (SELECT DISTINCT district_id, kind, sourced_id FROM {table})"  # noqa: S608
            ).fetchone()
            ids = conn.execute(f"SELECT count(DISTINCT id) FROM {table}").fetchone()  # noqa: S608
            assert keys == ids == (records,)
            indexes = {row[1]: row[2] for row in conn.execute(f"PRAGMA index_list({table})")}
            assert indexes == {f"{table}_pkey": 1, f"{table}_key": 1}  # both unique
            hashes = conn.execute(f"SELECT DISTINCT length(content_hash) FROM {table}").fetchall()  # noqa: S608
            assert hashes == [(physical.DIGEST_SIZE,)]
        finally:
            conn.close()


class TestRestBound:
    """The REST bound decodes and hashes the same district's records from JSON pages."""

    def test_it_decodes_every_record_in_pages_of_a_thousand(
        self, district: StreamingDistrict
    ) -> None:
        _seconds, _cpu, records, pages = physical.rest_decode_hash(STUDENTS, SEED)
        sizes = district.sizes()
        assert records == sum(sizes.values())
        assert pages == sum(-(-n // physical.PAGE_SIZE) for n in sizes.values())

    def test_both_decoders_hash_a_page_record_by_record(self) -> None:
        page = b'{"users":[{"sourcedId":"a"},{"sourcedId":"b"}]}'
        digests = bytearray()
        assert physical.decode_hash_page(page, digests) == 2
        assert len(digests) == 2 * physical.DIGEST_SIZE
        assert digests[:16] != digests[16:]


def test_the_bound_imports_none_of_the_sync_code(bundle: Path, tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from bench import physical; "
        f"physical.parse_hash(Path({str(bundle)!r})); "
        f"physical.load(Path({str(bundle)!r}), 'sqlite:///{tmp_path / 'x.db'}'); "
        "print(sorted(m for m in sys.modules if m.startswith('rostersync')))"
    )
    root = Path(physical.__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


class TestPhysicalRatios:
    """Figures are judged against the physical bounds with the issue's targets."""

    TIMINGS: ClassVar[dict[str, float]] = {
        "first_sync": 12.0,
        "noop_resync": 3.0,
        "delta_1pct": 3.3,
    }
    PHYSICAL: ClassVar[dict[str, float]] = {
        "parse": 0.5,
        "parse_hash": 1.0,
        "load": 2.0,
        "rest_decode_hash": 1.5,
    }

    def test_first_sync_against_parse_hash_and_load_and_noop_against_parse_hash(self) -> None:
        result = physical_ratios(self.TIMINGS, self.PHYSICAL)
        assert result["first_sync"]["ratio"] == pytest.approx(4.0)
        assert result["first_sync"]["met"] is True
        assert result["noop_resync"]["ratio"] == pytest.approx(3.0)
        assert result["noop_resync"]["met"] is False
        assert result["delta_1pct"]["bound"] == "noop_resync"
        assert result["delta_1pct"]["ratio"] == pytest.approx(1.1)
        assert result["delta_1pct"]["met"] is True

    def backend(self) -> dict[str, object]:
        timings = {**self.TIMINGS, "read_parse": 2.0, "bulk_load": 2.0}
        return {
            "timings": timings,
            "ratios": ratios(timings),
            "peak_rss_mb": {"first_sync": 300.0},
            "physical": {"timings": self.PHYSICAL, "peak_rss_mb": {}, "detail": {}},
            "physical_ratios": physical_ratios(timings, self.PHYSICAL),
        }

    def test_the_table_marks_each_target(self) -> None:
        data = self.backend()
        table = markdown({"students": 10_000, "machine": "x86_64", "backends": {"sqlite": data}})
        assert "| sqlite | bundle first sync ≤ 4× (parse_hash + load) | 12.00 |" in table
        assert "| 4.00× | met |" in table
        assert "| 3.00× | not met |" in table
        assert "| sqlite | bundle peak memory < 1 GB |  |  |  | 300 MB | met |" in table
        # Measured without the REST path: its targets say so instead of dropping out.
        assert (
            "| sqlite | REST no-op resync ≤ 2× rest_decode_hash |  |  |  |  | not measured |"
            in (table)
        )

    def test_the_summary_has_one_row_per_backend(self) -> None:
        data = self.backend()
        rows = summary({"backends": {"sqlite": data}}).splitlines()[2:]
        assert rows == [
            "| sqlite | 12.00 | 4.00× met | 3.00 | 3.00× not met | 1.10× met | "
            "0.50 / 1.00 / 2.00 / 1.50 | 3.00×, 1.50× | 300 |"
        ]
