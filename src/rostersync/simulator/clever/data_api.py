"""Clever's list envelope and range-based paging, shared by the Data API and the Events API.

A list answer is `{"data": [{"data": {…}, "uri": "/v3.1/{kind}/{id}"}, …], "links": [...]}`
whose links (`{"rel", "uri"}`) hold `self` always, `next` while records remain after the page,
and `prev` when the page was asked for with a cursor and records remain before it. Records are
ordered by ascending id; `starting_after` pages forward from an id, `ending_before` backward.
`limit` defaults to 100; over 10,000 is answered 413, as Clever's error table documents.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from rostersync.simulator.clever.http import Reply, json_reply, message

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000

Item = tuple[str, dict[str, Any]]  # (id, the `data` object)


class BadQuery(ValueError):
    """A query parameter Clever would refuse, with the status it answers (400 or 413)."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.status = status


def parse_limit(value: str | None) -> int:
    """The page size asked for.

    Raises:
        BadQuery: Not a positive integer (400), or more than 10,000 (413).
    """
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not value.isdigit() or int(value) < 1:
        raise BadQuery(f"limit must be a positive integer, not {value!r}")
    if int(value) > MAX_LIMIT:
        raise BadQuery(f"limit may be at most {MAX_LIMIT}", status=413)
    return int(value)


def page(
    items: Sequence[Item],
    *,
    path: str,
    query: dict[str, str],
    keep: Sequence[str] = (),
    uri_prefix: str,
) -> Reply:
    """One page of `items` (sorted by id) as Clever answers a list request.

    Args:
        items: (id, object) pairs in ascending id order.
        path: The request path, e.g. "/v3.1/users".
        query: The request's query parameters (first value of each).
        keep: Query parameters carried into the next and prev links (filters such as `role`).
        uri_prefix: Prefix of each item's `uri`, e.g. "/v3.1/users".
    """
    try:
        limit = parse_limit(query.get("limit"))
    except BadQuery as exc:
        return message(exc.status, str(exc))
    after, before = query.get("starting_after"), query.get("ending_before")
    if after and before:
        return message(400, "use starting_after or ending_before, not both")
    ids = [item_id for item_id, _ in items]
    if before:
        # `ending_before=last` reads the newest records (how an Events client finds its cursor).
        stop = len(ids) if before == "last" else bisect.bisect_left(ids, before)
        start = max(0, stop - limit)
    else:
        start = bisect.bisect_right(ids, after) if after else 0
        stop = min(len(ids), start + limit)
    chosen = items[start:stop]
    carried = {k: query[k] for k in keep if query.get(k)}
    if "limit" in query:
        carried["limit"] = str(limit)
    links = [{"rel": "self", "uri": _uri(path, query)}]
    if stop < len(ids) and chosen:
        links.append(
            {"rel": "next", "uri": _uri(path, {**carried, "starting_after": ids[stop - 1]})}
        )
    if start > 0 and chosen and (after or before):
        links.append({"rel": "prev", "uri": _uri(path, {**carried, "ending_before": ids[start]})})
    data = [{"data": obj, "uri": f"{uri_prefix}/{item_id}"} for item_id, obj in chosen]
    return json_reply(200, {"data": data, "links": links})


def single(item_id: str, obj: dict[str, Any], *, uri_prefix: str) -> Reply:
    """One record, as `GET /v3.1/{kind}/{id}` answers."""
    uri = f"{uri_prefix}/{item_id}"
    return json_reply(200, {"data": obj, "links": [{"rel": "self", "uri": uri}]})


def _uri(path: str, query: dict[str, str]) -> str:
    return f"{path}?{urlencode(query)}" if query else path
