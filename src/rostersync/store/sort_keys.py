"""The stored keys that lists and searches order and match names by (migration 0016).

A name is compared without regard to case by its Unicode case fold (`str.casefold`: "MÜLLER"
and "müller" are one, "Straße" is "strasse"), worked out in Python when the row is written, so
SQLite (whose `lower()` folds ASCII only) and PostgreSQL match and order names alike, and an
index on the key answers what a function over the column could not.

- `students.name_key`, `educators.name_key`: the folded full name ("given family"), which search
  matches every word of a name against.
- `validation_issues.name_sort`, `validation_issues.school_sort`: "0" and the folded name (or
  school) of the record an issue is about, or "1" when the roster named none, so a list ordered
  by them puts the unnamed after the named; a name is matched as `LIKE '0%word%'`. A sort key
  keeps the first 100 folded characters.

Each column fills itself on INSERT from the row's own values (`Column(default=...)`); an UPDATE
that changes a name sets the key beside it (`person_name_key`, `issue_sort_keys`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, true

__all__ = [
    "NAMED",
    "UNNAMED",
    "fold",
    "issue_sort_keys",
    "key_contains",
    "person_name_key",
    "sort_key",
    "words_like",
]

NAMED = "0"
UNNAMED = "1"
# The folded characters a sort key keeps: enough to order and find any real name, and an
# index entry of a few such keys stays well within PostgreSQL's limit for any roster's text.
SORT_CHARS = 100


def fold(text: str | None) -> str:
    """`text` folded for comparison without regard to case, spaces at its ends trimmed."""
    return (text or "").strip().casefold()


def sort_key(text: str | None) -> str:
    """A name's (or school's) sort key: "0" and its fold (its first `SORT_CHARS` characters),
    or "1" when there is none."""
    folded = fold(text)[:SORT_CHARS]
    return NAMED + folded if folded else UNNAMED


def person_name_key(given: str | None, family: str | None) -> str:
    """A person's search key: their full name, "given family", folded."""
    return fold(f"{given or ''} {family or ''}")


def issue_sort_keys(name: str | None, school: str | None) -> dict[str, str]:
    """The `name_sort` and `school_sort` of an issue whose record has this name and school."""
    return {"name_sort": sort_key(name), "school_sort": sort_key(school)}


def key_contains(key: ColumnElement[str], text: str, prefix: str = "") -> ColumnElement[bool]:
    """`text`, folded, appears in the stored key `key` after `prefix` (`NAMED`: a sort key of a
    record that has a name). `%` and `_` are matched as themselves."""
    escaped = fold(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return key.like(f"{prefix}%{escaped}%", escape="\\")


def words_like(key: ColumnElement[str], text: str, prefix: str = "") -> ColumnElement[bool]:
    """Every word of `text` appears in the stored key `key` (see `key_contains`)."""
    return and_(true(), *[key_contains(key, w, prefix) for w in fold(text).split()])


def _current(context: Any) -> dict[str, Any]:
    params: dict[str, Any] = context.get_current_parameters()
    return params


def person_name_default(context: Any) -> str:
    """`name_key`'s value on INSERT, from the row's `given_name` and `family_name`."""
    row = _current(context)
    return person_name_key(row.get("given_name"), row.get("family_name"))


def issue_name_default(context: Any) -> str:
    """`name_sort`'s value on INSERT, from the row's `subject_name`."""
    return sort_key(_current(context).get("subject_name"))


def issue_school_default(context: Any) -> str:
    """`school_sort`'s value on INSERT, from the row's `subject_school`."""
    return sort_key(_current(context).get("subject_school"))
