"""An HTTP response built before anything is written, and the OneRoster 1.1 status bodies."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Response:
    """Status, JSON body and extra headers of one answer.

    `delay` and `delivery` are set by faults (`rostersync.simulator.faults`): seconds to hold the
    answer back, and "whole", "cut" (the connection closes mid-body) or "truncated" (a complete
    HTTP answer whose body stops halfway).
    """

    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    delivery: str = "whole"

    def payload(self) -> bytes:
        """The body as compact UTF-8 JSON."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def status_info(
    code_minor: str, description: str, *, major: str = "failure", severity: str = "error"
) -> dict[str, Any]:
    """One 1.1 status entry (an element of `statusInfoSet`)."""
    return {
        "imsx_codeMajor": major,
        "imsx_severity": severity,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
        "imsx_description": description,
    }


def status_info_set(code_minor: str, description: str) -> dict[str, Any]:
    """The 1.1 `statusInfoSet` failure body for one codeMinor value."""
    return {"statusInfoSet": [status_info(code_minor, description)]}


def with_warnings(response: Response, warnings: Sequence[dict[str, Any]]) -> Response:
    """A 1.1 success that also reports warning entries in `statusInfoSet` (when there are any)."""
    if not warnings:
        return response
    return dataclasses.replace(response, body={**response.body, "statusInfoSet": list(warnings)})


def failure(
    status: int, code_minor: str, description: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """A failure response with the 1.1 status body."""
    return Response(status, status_info_set(code_minor, description), headers or [])
