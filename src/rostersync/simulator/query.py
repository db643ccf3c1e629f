"""The OneRoster collection query parameters: filter, sort/orderBy, fields, limit/offset.

Filter grammar (1.1): `<field><op>'<value>'`, ops `= != > >= < <= ~`, at most two predicates
joined by one ` AND ` or ` OR `. A quote inside a value is written twice (`'O''Brien'`), the
convention of the one careful implementation that defines it. A field may reach one level into a
reference or object (`school.sourcedId`, `metadata.eligibility`); a predicate on a list (grades,
orgs) holds when any element matches, and `!=` when none equals. Every comparison is on strings,
so ISO 8601 dates compare correctly; `~` is a case-insensitive substring test.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rostersync.oneroster.oauth1 import encode
from rostersync.simulator.response import status_info

Record = dict[str, Any]

DEFAULT_LIMIT = 100
MAX_LIMIT = 10000

_PREDICATE = (
    r"([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?)\s*(!=|>=|<=|=|>|<|~)\s*'((?:[^']|'')*)'"
)
_FILTER = re.compile(rf"\s*{_PREDICATE}(?:\s+(AND|OR)\s+{_PREDICATE})?\s*", re.DOTALL)
_DIGITS = re.compile(r"[0-9]+")

_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "~": lambda value, wanted: wanted.casefold() in value.casefold(),
}


class QueryError(Exception):
    """A query parameter the server answers with HTTP 400.

    Attributes:
        code_minor: The 1.1 codeMinor for the status body.
        description: Human-readable cause, safe to return to the caller.
    """

    def __init__(self, code_minor: str, description: str) -> None:
        super().__init__(description)
        self.code_minor = code_minor
        self.description = description


@dataclass(frozen=True, slots=True)
class Predicate:
    """One `<field><op>'<value>'` term."""

    field: str
    op: str
    value: str

    def matches(self, record: Record) -> bool:
        """Whether the record satisfies this term."""
        values = values_of(record, self.field) or [""]
        if self.op == "!=":
            return all(v != self.value for v in values)
        compare = _COMPARE[self.op]
        return any(compare(v, self.value) for v in values)


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter: one predicate, or two joined by "AND" or "OR"."""

    predicates: tuple[Predicate, ...]
    joiner: str = "AND"

    def matches(self, record: Record) -> bool:
        """Whether the record satisfies the whole filter."""
        results = (p.matches(record) for p in self.predicates)
        return all(results) if self.joiner == "AND" else any(results)


def parse_filter(text: str, fields: frozenset[str]) -> Filter:
    """Parse a `filter=` value.

    Args:
        text: The decoded parameter value.
        fields: The properties of the resource being filtered.

    Returns:
        The parsed filter.

    Raises:
        QueryError: The filter is malformed or names a field the resource does not have.
    """
    match = _FILTER.fullmatch(text)
    if match is None:
        raise QueryError(
            "invalid_filter_field",
            "malformed filter: expected <field><op>'<value>' with op one of = != > >= < <= ~, "
            "at most two predicates joined by ' AND ' or ' OR '",
        )
    groups = match.groups()
    predicates = [Predicate(groups[0], groups[1], groups[2].replace("''", "'"))]
    if groups[3] is not None:
        predicates.append(Predicate(groups[4], groups[5], groups[6].replace("''", "'")))
    for predicate in predicates:
        if predicate.field.partition(".")[0] not in fields:
            raise QueryError("invalid_filter_field", f"unknown filter field {predicate.field!r}")
    return Filter(tuple(predicates), groups[3] or "AND")


def values_of(record: Record, path: str) -> list[str]:
    """The string values a field path holds: several for lists, none when absent.

    A bare reference (or list of references) stands for its sourcedId.
    """
    head, _, tail = path.partition(".")
    value = record.get(head)
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get(tail or "sourcedId")
        elif tail:
            continue
        if item is not None:
            found.append(_text(item))
    return found


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which records a collection request wants, in which order (everything but the page)."""

    filter: Filter | None = None
    sort: str | None = None
    descending: bool = False

    def apply(self, records: Iterable[Record]) -> list[Record]:
        """Filter then sort (stably) the records."""
        chosen = [r for r in records if self.filter is None or self.filter.matches(r)]
        if self.sort is not None:
            field = self.sort
            chosen.sort(key=lambda r: (values_of(r, field) or [""])[0], reverse=self.descending)
        return chosen


def parse_selection(params: Mapping[str, str], fields: frozenset[str]) -> Selection:
    """Read `filter`, `sort` and `orderBy`; an unknown sort field is ignored (`check_query` warns).

    Raises:
        QueryError: The filter is malformed or names an unknown field.
    """
    text = params.get("filter", "")
    parsed = parse_filter(text, fields) if text.strip() else None
    sort = params.get("sort", "").strip() or None
    if sort is not None and sort.partition(".")[0] not in fields:
        sort = None
    # ClassLink silently treats any orderBy other than desc (even a typo like "dsc") as asc.
    descending = params.get("orderBy", "").strip().lower() == "desc"
    return Selection(parsed, sort, descending)


def parse_fields(params: Mapping[str, str], fields: frozenset[str]) -> tuple[str, ...] | None:
    """The known property names of `fields=`, or None for whole records.

    Unknown names are dropped; if none is left the whole record is returned, as when absent.
    """
    wanted = [name.strip() for name in params.get("fields", "").split(",")]
    known = tuple(name for name in wanted if name in fields)
    return known or None


def unknown_fields(params: Mapping[str, str], fields: frozenset[str]) -> tuple[str, ...]:
    """The names in `fields=` that are not properties of the resource, once each, in order."""
    if "fields" not in params:
        return ()
    wanted = (name.strip() for name in params["fields"].split(","))
    return tuple(dict.fromkeys(name for name in wanted if name and name not in fields))


def check_fields(
    params: Mapping[str, str], fields: frozenset[str], *, strict: bool
) -> dict[str, Any] | None:
    """Judge the names in `fields=`: None when all are properties of the resource.

    OneRoster 1.1 ignores an unknown selection field and reports it: the answer is a success
    carrying a warning (`invalid_selection_field`, naming the field), and with no known field
    left the whole record is returned (`parse_fields` gives None). OneRoster 1.2 refuses it:
    its OpenAPI answers an invalid selection field with 400 failure/error, and a 1.2 success
    payload never carries status information, so there is no warning to give.

    Args:
        params: The request's query parameters.
        fields: The properties of the resource being selected from.
        strict: Refuse unknown names (1.2) rather than warn (1.1).

    Returns:
        The 1.1 warning entry for `statusInfoSet`, or None.

    Raises:
        QueryError: `strict` and a name is unknown (codeMinor invalid_selection_field).
    """
    unknown = unknown_fields(params, fields)
    if not unknown:
        return None
    named = ", ".join(repr(name[:64]) for name in unknown[:10])
    known = ", ".join(sorted(fields))
    if strict:
        raise QueryError(
            "invalid_selection_field",
            f"unknown selection field {named} in fields=; this resource has {known}",
        )
    kept = parse_fields(params, fields)
    outcome = "the whole record is returned" if kept is None else "it was ignored"
    return status_info(
        "invalid_selection_field",
        f"unknown selection field {named} in fields=: {outcome}; this resource has {known}",
        major="success",
        severity="warning",
    )


def check_query(
    params: Mapping[str, str], fields: frozenset[str], *, strict: bool, collection: bool
) -> list[dict[str, Any]]:
    """The 1.1 warnings a request's `fields=` and (for a collection) `sort=` earn.

    A sort field the resource does not have leaves the default order; 1.1 reports it as a
    success with an `invalid_sort_field` warning naming it. 1.2 has no such code and no status
    in a success, so `strict` (1.2) ignores it silently, as `parse_selection` does.

    Raises:
        QueryError: `strict` and a `fields=` name is unknown (see `check_fields`).
    """
    warnings: list[dict[str, Any]] = []
    selection = check_fields(params, fields, strict=strict)
    if selection is not None:
        warnings.append(selection)
    sort = params.get("sort", "").strip()
    if collection and not strict and sort and sort.partition(".")[0] not in fields:
        warnings.append(
            status_info(
                "invalid_sort_field",
                f"unknown sort field {sort[:64]!r}: the records are in the default order",
                major="success",
                severity="warning",
            )
        )
    return warnings


def project(record: Record, fields: Sequence[str] | None) -> Record:
    """The record restricted to `fields` (all of it when None)."""
    if fields is None:
        return record
    return {name: record[name] for name in fields if name in record}


@dataclass(frozen=True, slots=True)
class Paging:
    """The requested page: `limit` records from 0-based `offset`."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_paging(params: Mapping[str, str]) -> Paging:
    """Read `limit` (1..10000, default 100) and `offset` (0 or more, default 0).

    Raises:
        QueryError: Either value is not a whole number in range (codeMinor invaliddata).
    """
    limit_text = params.get("limit", str(DEFAULT_LIMIT)).strip()
    offset_text = params.get("offset", "0").strip()
    if not _DIGITS.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise QueryError("invaliddata", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    if not _DIGITS.fullmatch(offset_text):
        raise QueryError("invaliddata", "offset must be a whole number, 0 or more")
    return Paging(int(limit_text), int(offset_text))


def link_header(base: str, params: Sequence[tuple[str, str]], paging: Paging, total: int) -> str:
    """An RFC 8288 `Link` value with first, prev, next and last, keeping the other parameters.

    The URLs are encoded per RFC 5849 §3.6 so a client can sign and send them unchanged.

    Args:
        base: Scheme, host and path of the request.
        params: The request's decoded query parameters, in order.
        paging: The page that was served.
        total: Number of records in the whole (filtered) collection.
    """
    limit, offset = paging.limit, paging.offset
    last = ((total - 1) // limit) * limit if total else 0
    targets = [("first", 0)]
    if offset > 0:
        targets.append(("prev", max(0, min(offset - limit, last))))
    if offset + limit < total:
        targets.append(("next", offset + limit))
    targets.append(("last", last))
    kept = [(k, v) for k, v in params if k not in ("limit", "offset")]
    links = []
    for rel, start in targets:
        pairs = [*kept, ("limit", str(limit)), ("offset", str(start))]
        query = "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)
        links.append(f'<{base}?{query}>; rel="{rel}"')
    return ", ".join(links)
