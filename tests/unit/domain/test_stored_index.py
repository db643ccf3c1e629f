"""The packed stored index reads back exactly the records it was given, in the same order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rostersync.domain.records import StoredIndex, StoredRecord

records = st.lists(
    st.builds(
        StoredRecord,
        id=st.text(min_size=1, max_size=40),
        sourced_id=st.text(max_size=12),
        content_hash=st.one_of(st.just(""), st.text("0123456789abcdef", min_size=32, max_size=32)),
        active=st.booleans(),
        manually_rostered=st.booleans(),
    ),
    max_size=20,
)


@given(records)
def test_reads_back_what_a_dict_of_records_would_hold(given_records: list[StoredRecord]) -> None:
    index, expected = StoredIndex(), {}
    for r in given_records:
        index.add(r.id, r.sourced_id, r.content_hash, r.active, r.manually_rostered)
        expected[r.sourced_id] = r
    assert dict(index) == expected
    assert list(index) == list(expected) and len(index) == len(expected)
    for sid, record in expected.items():
        assert sid in index and index[sid] == record and index.get(sid) == record
    assert index.get("\x00absent") is None and "\x00absent" not in index
    assert list(index.items()) == list(expected.items())
