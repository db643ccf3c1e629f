"""What a roster server's answer means: success, or the error the caller acts on.

`classify_response` sorts every HTTP answer (the retry transport retries what it calls retriable),
`status_info` reads a OneRoster status body in its 1.1 and 1.2 shapes, and `decode_body` reads a
2xx body, calling JSON that breaks off retriable. Messages name the host and path, never a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from rostersync.errors import (
    FatalSourceError,
    RetriableSourceError,
    SourceAuthError,
    SourceError,
)

__all__ = ["StatusInfo", "classify_response", "decode_body", "status_info"]

_MAX_DESCRIPTION = 300  # server descriptions can echo a filter; keep messages short


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """The parts of a OneRoster status body (1.1 `statusInfoSet` or 1.2 `imsx_StatusInfo`)."""

    description: str = ""
    code_major: str = ""
    code_minor: tuple[str, ...] = ()

    def summary(self) -> str:
        """`description [codeMinor, …]`, or whichever part is present; "" when neither is."""
        minor = f"[{', '.join(self.code_minor)}]" if self.code_minor else ""
        return " ".join(part for part in (self.description, minor) if part)


def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _code_minor_values(value: object) -> list[str]:
    # `imsx_CodeMinor` is `{"imsx_codeMinorField": [{…FieldValue}]}`; some servers send one field
    # as an object, or the bare string.
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, Mapping):
        return []
    values = []
    for item in _as_list(value.get("imsx_codeMinorField")):
        if isinstance(item, Mapping):
            found = item.get("imsx_codeMinorFieldValue")
            if isinstance(found, str) and found:
                values.append(found)
    return values


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


def status_info(body: object) -> StatusInfo:
    """Read a OneRoster status body, whichever shape the server uses.

    Accepts the 1.1 `{"statusInfoSet": [...]}`, the bare 1.2 `imsx_StatusInfoDType` object, and
    the `imsx_StatusInfo` / `imsx_statusInfo` wrappers some 1.2 servers and clients use.

    Args:
        body: The decoded JSON body (anything; non-objects yield an empty `StatusInfo`).

    Returns:
        The descriptions and codeMinor values found, joined; empty when there are none.
    """
    if not isinstance(body, Mapping):
        return StatusInfo()
    entries: list[object] = []
    entries += _as_list(body.get("statusInfoSet"))
    entries += _as_list(body.get("imsx_StatusInfo"))
    entries += _as_list(body.get("imsx_statusInfo"))
    if "imsx_codeMajor" in body:
        entries.append(body)
    descriptions: list[str] = []
    majors: list[str] = []
    minors: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        description = entry.get("imsx_description")
        if isinstance(description, str) and description.strip():
            descriptions.append(description.strip())
        major = entry.get("imsx_codeMajor")
        if isinstance(major, str) and major:
            majors.append(major)
        minors += _code_minor_values(entry.get("imsx_CodeMinor", entry.get("imsx_codeMinor")))
    return StatusInfo(
        description=_clip("; ".join(descriptions)),
        code_major=", ".join(dict.fromkeys(majors)),
        code_minor=tuple(dict.fromkeys(minors)),
    )


def _response_status_info(response: httpx.Response) -> StatusInfo:
    try:
        return status_info(response.json())
    except ValueError:  # not JSON (an HTML error page, an empty body): nothing to read
        return StatusInfo()


def _auth_advice(info: StatusInfo, host: str, path: str) -> tuple[str, str]:
    # Most specific first: "invalid signature for oauth_consumer_key …" is about the secret.
    text = " ".join([info.description, *info.code_minor]).lower()
    if "nonce" in text:
        return "clock/nonce", (
            f"{host} rejected the request nonce as reused or stale; check this machine's clock "
            "and that no other process is sending requests with the same key"
        )
    if "timestamp" in text:
        return "clock", (
            f"{host} rejected the request timestamp; check this machine's clock (it must be "
            "within a few minutes of the real time, e.g. kept by NTP)"
        )
    if "signature" in text:
        return "secret", (
            f"{host} rejected the request signature; check the ClassLink secret (client secret) "
            "in the district's integration settings"
        )
    if "consumer_key" in text or "consumer key" in text:
        return "key", (
            f"the ClassLink key (client id) is not recognised by {host}; check the key in the "
            "district's integration settings"
        )
    return "key and secret", (
        f"{host} refused our credentials for GET {path}; check the ClassLink key and secret in "
        "the district's integration settings, and that the district shares this data with us"
    )


def classify_response(response: httpx.Response) -> SourceError | None:
    """Sort an HTTP answer into success or the error the caller acts on. The one retry policy.

    Args:
        response: A response whose `request` is set (as every response from a client is).

    Returns:
        None for 2xx. Otherwise the error to raise: a `RetriableSourceError` for 429 and 5xx (the
        caller retries those), `SourceAuthError` for 401/403, `FatalSourceError` for the rest.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    request = response.request
    host, path = request.url.host, request.url.path
    info = _response_status_info(response)
    detail = f"HTTP {status}: {info.summary() or response.reason_phrase}"
    if status == 429 or status >= 500:
        return RetriableSourceError(
            f"{host} answered {request.method} {path} with {detail}", url=path, status=status
        )
    if status in (401, 403):
        credential, advice = _auth_advice(info, host, path)
        return SourceAuthError(
            f"{advice} ({detail})", credential=credential, url=path, status=status
        )
    if 300 <= status < 400:
        # A redirect would need a new signature for a URL we did not choose: refuse it.
        target = urlsplit(response.headers.get("Location", ""))
        return FatalSourceError(
            f"{host} redirected {request.method} {path} to {target.netloc}{target.path} "
            f"({detail}); set the district's OneRoster base URL to the API's own address",
            url=path,
            status=status,
        )
    return FatalSourceError(
        f"{host} rejected {request.method} {path} ({detail}); retrying will not help, the "
        "request or the source needs fixing",
        url=path,
        status=status,
    )


def decode_body(response: httpx.Response, host: str) -> tuple[object, SourceError | None]:
    """The JSON body of a 2xx answer; a body cut short in transit is a retriable failure."""
    try:
        return response.json(), None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        path = response.request.url.path
        if response.content.lstrip()[:1] in (b"{", b"["):
            # JSON that breaks off was cut on the way (a proxy, a dropped connection); the same
            # request usually arrives whole when asked again.
            return None, RetriableSourceError(
                f"{host} answered GET {path} with JSON that breaks off after "
                f"{len(response.content)} bytes",
                url=path,
                status=response.status_code,
            )
        raise FatalSourceError(
            f"{host} answered GET {path} with a body that is not JSON; check that the base URL "
            "points at the OneRoster API",
            url=path,
            status=response.status_code,
        ) from exc
