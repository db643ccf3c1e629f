"""Enrollments spooled straight from their cells equal those spooled from their records."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.oneroster.bundle_helpers import bundle_bytes, make_zip, members

from rostersync.domain.records import Enrollment
from rostersync.domain.rules import DistrictRules
from rostersync.errors import FatalSourceError
from rostersync.oneroster.bundle import Bundle
from rostersync.oneroster.bundle_schema import columns_for
from rostersync.oneroster.mapping import to_enrollment
from rostersync.sync.bundle_source import BundleSource
from rostersync.sync.enrollment_rows import bundle_rows, spool_rows, wire_row
from rostersync.sync.enrollments import EnrollmentSpool, row_of
from rostersync.sync.pipeline import collect_streamed

SPEC = columns_for("1.1", "enrollments")

# Cells as districts send them: padded ids, statuses and flags in any case, blanks.
_ids = st.sampled_from(["", " ", "e-1", " e-1 ", "e-1\t", "42", " 42", "ü-9"])
_status = st.sampled_from(["", "active", "Active", " ACTIVE ", "tobedeleted", "inactive", "gone"])
_flag = st.sampled_from(["", "true", "TRUE", " yes ", "1", "false", "No", "0", "maybe"])
_stamp = st.sampled_from(["", "2026-09-01T00:00:00Z", " 2026-09-01 "])
_role = st.sampled_from(["", "student", "teacher", " Student", "aide"])
_date = st.sampled_from(["", "2026-08-15", " 2027-06-01 "])


def _mapped(bundle: Bundle) -> list[tuple[object, ...]]:
    rows = []
    for _collection, record in bundle.records(only=("enrollments",)):
        assert isinstance(record, Enrollment)
        rows.append(row_of(record))
    return rows


def _bundle(rows: list[list[str]]) -> bytes:
    files = members(bundle_bytes())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SPEC)
    writer.writerows(rows)
    files["enrollments.csv"] = out.getvalue().encode("utf-8")
    return make_zip(files)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_ids, _status, _stamp, _ids, _ids, _ids, _role, _flag, _date, _date),
        min_size=1,
        max_size=12,
    )
)
def test_rows_from_cells_equal_rows_from_records(cells: list[tuple[str, ...]]) -> None:
    bundle = _bundle([list(row) for row in cells])
    with Bundle(bundle) as by_record:
        expected = _mapped(by_record)
    with Bundle(bundle) as by_cell:
        assert list(bundle_rows(by_cell)) == expected
        assert by_cell.stats.rows["enrollments"] == len(cells)


def test_a_changed_cell_changes_the_hash() -> None:
    row = ["e-1", "active", "", "c-1", "s-1", "u-1", "student", "false", "", ""]
    first = next(spool_rows(SPEC, iter([row])))
    renamed = next(spool_rows(SPEC, iter([[*row[:5], "u-2", *row[6:]]])))
    assert first[-1] != renamed[-1]
    padded = next(spool_rows(SPEC, iter([[" e-1 ", *row[1:]]])))
    assert padded == first  # a stray space is not a change


def test_a_small_bundle_spools_its_enrollments_itself(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle_bytes())
    with Bundle(path) as bundle:
        expected = _mapped(bundle)
    source = BundleSource(path)
    spool = EnrollmentSpool(5)
    seen: dict[str, int] = {}
    try:
        collect_streamed(source, spool, DistrictRules(), lambda name, n: seen.__setitem__(name, n))
        assert not source.enrollments_aside
        assert [row for _start, rows in spool.chunks() for row in rows] == expected
    finally:
        spool.close()
    assert source.stats.records["enrollments"] == len(expected) == seen["enrollments"]
    assert source.bundle_stats.rows["enrollments"] == len(expected)


# JSON as roster servers send it: the usual shape, and the odd ones the mapper tidies.
_json_text = st.one_of(st.none(), _ids, st.integers(-3, 99), st.booleans())
_json_ref = st.one_of(
    st.none(),
    _ids,
    st.builds(lambda sid: {"sourcedId": sid, "href": "x", "type": "class"}, _json_text),
    st.just({}),
)
_json_enrollment = st.fixed_dictionaries(
    {},
    optional={
        "sourcedId": _json_text,
        "status": st.one_of(st.none(), _status),
        "dateLastModified": st.one_of(st.none(), _stamp),
        "class": _json_ref,
        "school": _json_ref,
        "user": _json_ref,
        "role": st.one_of(st.none(), _role, st.integers(0, 2)),
        "primary": st.one_of(st.none(), st.booleans(), _flag, st.integers(0, 1)),
        "beginDate": st.one_of(st.none(), _date),
        "endDate": st.one_of(st.none(), _date),
    },
)


@settings(max_examples=300, deadline=None)
@given(_json_enrollment)
def test_wire_rows_equal_rows_from_records(raw: dict[str, object]) -> None:
    assert wire_row(raw) == row_of(to_enrollment(raw))


def test_a_wire_row_that_is_not_an_object_is_refused_as_the_mapper_refuses_it() -> None:
    with pytest.raises(FatalSourceError, match="not a JSON object"):
        wire_row(["e-1"])
