"""The fuzz targets: what each one is fed (Hypothesis strategies) and what it must never do.

Shared by the bounded runs in CI (`tests/unit/oneroster/test_fuzz_*.py`,
`tests/integration/reliability/test_fuzz_oidc_callback.py`) and the long run (`python -m
bench.fuzz`), so both check exactly the same promises:

- bundle: any bytes, and valid OneRoster CSV bundles mutated at the byte, member, line and cell
  level, either read whole or are refused with a `BundleError` that names the file (or, for
  a refusal of the bundle as a whole, says "the bundle …"); never another exception.
- mapping: any JSON value, and objects with OneRoster's field names holding any JSON, become a
  record through every 1.1 and 1.2 mapper, or (only for something that is not a JSON object) a
  `FatalSourceError` saying so; never another exception. The record's content hash is taken
  too, as every sync does.
- callback: any query string on `/oauth/callback`, with or without the login cookie of a
  started sign-in, gets a redirect or an HTML refusal page; never a 500, never FastAPI's raw
  422 JSON echoing the input.
"""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx
from hypothesis import strategies as st

from rostersync.domain.records import Record
from rostersync.errors import FatalSourceError
from rostersync.oneroster.bundle import Bundle, BundleError, BundleLimits
from rostersync.oneroster.mapping import MAPPERS
from rostersync.oneroster.mapping_v1p2 import MAPPERS_V1P2
from rostersync.simulator import generate_district
from rostersync.simulator.bundle_writer import write_bundle

__all__ = [
    "CALLBACK_KEYS",
    "bundles",
    "callback_queries",
    "check_bundle",
    "check_callback",
    "check_mapping",
    "mapper_inputs",
    "start_sign_in",
]

# Bundle ------------------------------------------------------------------------------------


@functools.cache
def valid_bundle(version: str) -> bytes:
    """A small but complete bundle of `version`: a few of every collection."""
    data = generate_district(students=3, seed=7)
    data = replace(
        data,
        courses=data.courses[:4],
        classes=data.classes[:4],
        users=data.users[:8],
        enrollments=data.enrollments[:8],
    )
    buf = io.BytesIO()
    write_bundle(data, buf, version=version)
    return buf.getvalue()


def _members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _zip(members: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# Text that breaks CSV and decoders: quotes, separators, line ends, NUL, a BOM, surrogates'
# neighbours, and ordinary letters.
_NASTY = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(',"\r\n\x00\ufeff\\{}:;= \t')),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
_ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1")


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def _edited_member(draw: st.DrawFn, members: dict[str, bytes]) -> dict[str, bytes]:
    """Edit one member's lines or cells (the reader's line, quoting and header logic)."""
    name = draw(st.sampled_from(sorted(members)))
    lines = members[name].decode("utf-8", errors="replace").split("\r\n")
    op = draw(st.sampled_from(["cell", "line", "insert", "delete", "header", "encoding"]))
    at = draw(st.integers(0, max(0, len(lines) - 1)))
    if op == "cell":
        cells = lines[at].split(",")
        cells[draw(st.integers(0, len(cells) - 1))] = draw(_NASTY)
        lines[at] = ",".join(cells)
    elif op == "line":
        lines[at] = draw(_NASTY)
    elif op == "insert":
        lines.insert(at, draw(_NASTY))
    elif op == "delete" and lines:
        del lines[at]
    elif op == "header":
        cells = lines[0].split(",")
        choice = draw(st.sampled_from(["swap", "drop", "dup", "rename", "extra"]))
        i = draw(st.integers(0, len(cells) - 1))
        if choice == "swap" and len(cells) > 1:
            j = (i + 1) % len(cells)
            cells[i], cells[j] = cells[j], cells[i]
        elif choice == "drop":
            del cells[i]
        elif choice == "dup":
            cells.insert(i, cells[i])
        elif choice == "rename":
            cells[i] = draw(_NASTY)
        else:
            cells.append(draw(st.sampled_from(["metadata.", "metadata.x", "ext_x", ""])))
        lines[0] = ",".join(cells)
    text = "\r\n".join(lines)
    encoding = draw(st.sampled_from(_ENCODINGS)) if op == "encoding" else "utf-8"
    return {**members, name: _encode(text, encoding)}


@st.composite
def _member_set(draw: st.DrawFn, members: dict[str, bytes]) -> dict[str, bytes]:
    """Drop, replace or add whole members (what the manifest and vetting see)."""
    out = dict(members)
    op = draw(st.sampled_from(["drop", "replace", "add", "manifest"]))
    name = draw(st.sampled_from(sorted(out)))
    if op == "drop":
        del out[name]
    elif op == "replace":
        out[name] = draw(st.binary(max_size=200))
    elif op == "add":
        new = draw(
            st.one_of(
                st.sampled_from(["users.csv", "roles.csv", "demographics.csv", "x/users.csv"]),
                st.text(
                    alphabet=st.characters(codec="ascii", exclude_characters="\x00"),
                    min_size=1,
                    max_size=20,
                ),
            )
        )
        out[new] = draw(st.binary(max_size=200))
    else:
        rows = out.get("manifest.csv", b"").decode("utf-8", errors="replace").split("\r\n")
        at = draw(st.integers(0, max(0, len(rows) - 1)))
        key = draw(
            st.sampled_from(
                ["manifest.version", "oneroster.version", "file.users", "file.roles", "file.x"]
            )
        )
        value = draw(st.one_of(st.sampled_from(["bulk", "delta", "absent", "1.1", "1.2"]), _NASTY))
        rows.insert(at, f"{key},{value}")
        out["manifest.csv"] = "\r\n".join(rows).encode("utf-8", errors="replace")
    return out


@st.composite
def _flipped(draw: st.DrawFn, bundle: bytes) -> bytes:
    """The zip itself damaged: bytes overwritten, or the file cut short."""
    data = bytearray(bundle)
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@st.composite
def bundles(draw: st.DrawFn) -> bytes:
    """Bytes a district could push: noise, or a valid bundle damaged in one of many ways."""
    kind = draw(st.sampled_from(["noise", "flipped", "members", "edited", "edited-twice"]))
    if kind == "noise":
        return draw(st.binary(max_size=400))
    base = valid_bundle(draw(st.sampled_from(["1.1", "1.2"])))
    if kind == "flipped":
        return draw(_flipped(base))
    members = _members(base)
    if kind == "members":
        return _zip(draw(_member_set(members)))
    members = draw(_edited_member(members))
    if kind == "edited-twice":
        members = draw(_edited_member(members))
    return _zip(members)


# Limits small enough for a small bundle to meet each of them, or the defaults.
LIMITS = st.one_of(
    st.none(),
    st.builds(
        BundleLimits,
        max_compressed_bytes=st.integers(100, 20_000),
        max_member_bytes=st.integers(1, 6_000),
        max_total_bytes=st.integers(1, 30_000),
        max_ratio=st.floats(1.0, 20.0),
        ratio_floor_bytes=st.integers(0, 2_000),
        max_members=st.integers(1, 12),
        max_line_chars=st.integers(1, 600),
        encoding=st.sampled_from(["auto", "utf-8", "cp1252"]),
    ),
)


def check_bundle(data: bytes, limits: BundleLimits | None = None) -> str:
    """Read the whole bundle under `limits` (the defaults when None). Returns "read" or
    "refused"; anything else raised is a crash.

    Raises:
        AssertionError: A refusal that names no file or says nothing.
    """
    try:
        with Bundle(data, limits=limits) as bundle:
            for _collection, _record in bundle.records():
                pass
    except BundleError as exc:
        # Only a refusal of the bundle as a whole (too many entries, too big) has no file.
        whole = str(exc).startswith("the bundle")
        assert exc.file or whole, f"a refusal names no file: {exc}"
        assert str(exc).strip(), "a refusal says nothing"
        return "refused"
    return "read"


# Mapping -----------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["", " ", "true", "false", "tobedeleted", "inactive", "student", "09,10"]),
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIELDS = (
    "sourcedId", "status", "dateLastModified", "metadata", "name", "type", "identifier",
    "parent", "children", "title", "startDate", "endDate", "schoolYear", "course", "courseCode",
    "grades", "subjects", "subjectCodes", "org", "school", "terms", "classCode", "classType",
    "location", "periods", "username", "userIds", "enabledUser", "givenName", "familyName",
    "middleName", "role", "roles", "roleType", "primaryOrg", "email", "sms", "phone", "agents",
    "orgs", "user", "class", "primary", "beginDate", "endDate",
)  # fmt: skip
_REF = st.fixed_dictionaries(
    {}, optional={"sourcedId": _SCALARS, "href": _SCALARS, "type": _SCALARS, "org": _SCALARS}
)
# One field's value: usually the shapes OneRoster uses (text, a GUIDRef, a list of them),
# sometimes any JSON at all.
_VALUE = st.one_of(_SCALARS, _REF, st.lists(st.one_of(_SCALARS, _REF), max_size=3), JSON)
ONEROSTER_OBJECTS = st.dictionaries(st.sampled_from(_FIELDS), _VALUE, max_size=8)
_MAPPERS = {("1.1", name): mapper for name, mapper in MAPPERS.items()} | {
    ("1.2", name): mapper for name, mapper in MAPPERS_V1P2.items()
}


def mapper_inputs() -> st.SearchStrategy[tuple[str, str, object]]:
    """(version, collection, raw item) for every 1.1 and 1.2 mapper."""
    return st.tuples(st.sampled_from(sorted(_MAPPERS)), st.one_of(ONEROSTER_OBJECTS, JSON)).map(
        lambda pair: (*pair[0], pair[1])
    )


def check_mapping(version: str, collection: str, raw: object) -> str:
    """Map one item. Returns "mapped" or "refused"; anything else raised is a crash.

    Raises:
        AssertionError: An object refused, a non-object mapped, or a record without a hash.
    """
    mapper = _MAPPERS[(version, collection)]
    try:
        record = mapper(raw)
    except FatalSourceError as exc:
        assert not isinstance(raw, Mapping), f"a JSON object was refused: {exc}"
        assert "not a JSON object" in str(exc), str(exc)
        return "refused"
    assert isinstance(raw, Mapping), "something that is not a JSON object became a record"
    assert isinstance(record, Record)
    assert len(record.content_hash()) > 0
    return "mapped"


# The OpenID callback -----------------------------------------------------------------------

CALLBACK_KEYS = ("code", "state", "error", "error_description", "iss", "session_state")
_QUERY_VALUE = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="abcXYZ019-_.~", max_size=60),
    # Past every length limit the route declares (code 2,000; state and error 200).
    st.integers(150, 2_200).map(lambda n: "A" * n),
)


def callback_queries() -> st.SearchStrategy[list[tuple[str, str]]]:
    """Query parameters for the callback, keys repeated or unknown too."""
    key = st.one_of(st.sampled_from(CALLBACK_KEYS), st.text(min_size=1, max_size=12))
    return st.lists(st.tuples(key, _QUERY_VALUE), max_size=5)


def check_callback(client: httpx.Client, params: list[tuple[str, str]]) -> str:
    """Send one callback from `client` (with whatever login cookie its jar holds).

    Returns:
        "redirect" or "refused".

    Raises:
        AssertionError: A server error, or an answer that is neither a redirect nor an HTML
            refusal page (FastAPI's 422 JSON included).
    """
    response = client.get("/oauth/callback", params=tuple(params))
    status = response.status_code
    assert status < 500, f"{status} for a callback: {response.text[:300]}"
    if status in (302, 303, 307):
        assert response.headers.get("location"), "a redirect that goes nowhere"
        return "redirect"
    kind = response.headers.get("content-type", "")
    assert kind.startswith("text/html"), f"{status} {kind}: {response.text[:300]}"
    assert 400 <= status < 500, f"{status} is neither a redirect nor a refusal"
    return "refused"


def start_sign_in(client: httpx.Client, district_id: str) -> str:
    """Choose a district on the login page as `client`; returns the state sent to ClassLink
    (the client's jar now holds the login cookie it is bound to)."""
    start = client.get("/login/start", params={"district": district_id})
    assert start.status_code == 303, start.text
    state = httpx.URL(start.headers["location"]).params.get("state")
    assert isinstance(state, str) and state, start.headers["location"]
    return state


def describe(value: Any, limit: int = 300) -> str:
    """A short, printable description of a failing input for the results file."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
