"""A 1.1 bundle's users become, straight from their cells, the records the JSON mapper makes."""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.oneroster.bundle_helpers import USERS_11, make_zip, manifest

from rostersync.domain.records import Person
from rostersync.oneroster.bundle import Bundle
from rostersync.oneroster.bundle_rows import CONVERTERS, users_11
from rostersync.oneroster.mapping import to_person

SPEC = USERS_11.split(",")
META = ["metadata.eligibility", "metadata.classlink.grade"]

# Cells as districts send them: padded ids and lists, statuses and flags in any case, blanks.
_text = st.sampled_from(["", " ", "Ann", " Ann ", "Zoë", "O'Neil", "=1+1", "a,b"])
_ids = st.sampled_from(["", "u-1", " u-1 ", "42", "ü-9\t"])
_lists = st.sampled_from(["", "s-1", " s-1 , s-2", "s-1,,s-2,", " , ", "09,10", "KG"])
_user_ids = st.sampled_from(["", "{LDAP:12},{Fed:23}", "LDAP:12, Fed : 23", "{a:b,c}", ":x", "y"])
_status = st.sampled_from(["", "active", "Active", " TOBEDELETED", "inactive", "gone"])
_flag = st.sampled_from(["", "true", "FALSE", " no ", "1", "maybe"])
_stamp = st.sampled_from(["", "2026-09-01T00:00:00Z"])
_role = st.sampled_from(["", "student", "teacher", " aide", "guardian"])

_row = st.fixed_dictionaries(
    {
        "sourcedId": _ids,
        "status": _status,
        "dateLastModified": _stamp,
        "enabledUser": _flag,
        "orgSourcedIds": _lists,
        "role": _role,
        "username": _text,
        "userIds": _user_ids,
        "givenName": _text,
        "familyName": _text,
        "middleName": _text,
        "identifier": _ids,
        "email": _text,
        "sms": _text,
        "phone": _text,
        "agentSourcedIds": _lists,
        "grades": _lists,
        "password": _text,
        META[0]: _text,
        META[1]: _ids,
    }
)


def _bundle(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*SPEC, *META])
    writer.writerows([[row[c] for c in [*SPEC, *META]] for row in rows])
    users = out.getvalue().encode("utf-8")
    return make_zip({"manifest.csv": manifest(users="bulk"), "users.csv": users})


def _through_json(row: dict[str, str]) -> Person:
    """The general reader's way: cells → OneRoster JSON shape → the JSON mapper."""
    cells: dict[str, Any] = {c: row[c] for c in SPEC}
    meta = {c.removeprefix("metadata."): row[c] for c in META if row[c] != ""}
    if meta:
        cells["metadata"] = meta
    raw = CONVERTERS["users"](cells)
    raw.update(users_11(cells))
    return to_person(raw)


@settings(max_examples=80, deadline=None)
@given(st.lists(_row, min_size=1, max_size=10))
def test_people_from_cells_equal_people_from_json(rows: list[dict[str, str]]) -> None:
    with Bundle(_bundle(rows)) as bundle:
        read = [record for _name, record in bundle.records()]
        counted = bundle.stats.rows["users"]
    assert read == [_through_json(row) for row in rows]
    assert [r.content_hash() for r in read] == [_through_json(r).content_hash() for r in rows]
    assert counted == len(rows)


def test_an_empty_users_file_counts_no_rows() -> None:
    bundle = make_zip(
        {"manifest.csv": manifest(users="bulk"), "users.csv": (USERS_11 + "\r\n").encode()}
    )
    with Bundle(bundle) as read:
        assert list(read.records()) == []
        assert read.stats.rows["users"] == 0
