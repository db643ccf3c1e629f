"""A 1.1 bundle's users.csv straight to `Person` records, each cell read once.

The general reader makes three objects per row before the record: a dict of cells, the
OneRoster JSON shape (`bundle_rows`), then the record through the JSON mapper, which checks the
type of every value it reads. For a 1.1 users.csv every value is text, so here the `Person` is
made from the cells directly with the same normalisation the two steps apply together: ids and
list items trimmed, empty items dropped, status read by `record_status`, `enabledUser` by
`flag`, `userIds` parsed by the same function, `metadata.*` columns with a value kept as
metadata, the repeated values (role, schools, grades, stamps) shared. The records are equal to
those the general reader makes; `tests/unit/oneroster/test_bundle_people.py` checks that on
generated rows. (1.2 users are joined with roles.csv and still go the general way.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from sys import intern

from rostersync.domain.records import Person
from rostersync.domain.unchanged_rows import UnchangedRow
from rostersync.oneroster.bundle_rows import user_ids
from rostersync.oneroster.mapping import flag, record_status

__all__ = ["people_11"]


def _items(cell: str) -> tuple[str, ...]:
    """A comma-separated cell's trimmed, non-empty items, each one shared string."""
    if "," not in cell:
        item = cell.strip()
        return (intern(item),) if item else ()
    return tuple(intern(part.strip()) for part in cell.split(",") if part.strip())


def people_11(
    spec: Sequence[str],
    metadata: Iterable[tuple[int, str]],
    rows: Iterator[list[str]],
    sift: Callable[[list[str]], UnchangedRow | None] | None = None,
) -> Iterator[Person | UnchangedRow]:
    """Each users.csv row (`spec` its 1.1 columns, `metadata` the (index, key) of its
    `metadata.*` columns) as the `Person` the general reader would make of it; as what `sift`
    makes of it instead, when that is not None (`domain.unchanged_rows`)."""
    at = {column: i for i, column in enumerate(spec)}
    sid, status, modified, enabled = (
        at[c] for c in ("sourcedId", "status", "dateLastModified", "enabledUser")
    )
    orgs, role, username, ids = (at[c] for c in ("orgSourcedIds", "role", "username", "userIds"))
    given, family, middle = (at[c] for c in ("givenName", "familyName", "middleName"))
    identifier, email, grades = (at[c] for c in ("identifier", "email", "grades"))
    extra = tuple(metadata)
    for row in rows:
        if sift is not None and (unchanged := sift(row)) is not None:
            yield unchanged
            continue
        stamp = row[modified]
        yield Person(
            sourced_id=row[sid].strip(),
            status=record_status(row[status]),
            date_last_modified=intern(stamp) if stamp else None,
            role=intern(row[role]),
            username=row[username],
            given_name=row[given],
            family_name=row[family],
            middle_name=row[middle],
            identifier=row[identifier],
            email=row[email],
            enabled=flag(row[enabled], default=True),
            org_sourced_ids=_items(row[orgs]),
            grades=_items(row[grades]),
            user_ids=tuple((i["type"], i["identifier"]) for i in user_ids(row[ids]))
            if row[ids]
            else (),
            metadata={key: row[i] for i, key in extra if row[i] != ""},
        )
