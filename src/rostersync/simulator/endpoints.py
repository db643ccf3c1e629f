"""The OneRoster 1.1 rostering endpoints the simulator serves, and the fields of each resource.

The envelope names the resource type, never the endpoint: `/schools` answers `{"orgs": [...]}`,
`/teachers` answers `{"users": [...]}`, `/terms` answers `{"academicSessions": [...]}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_COMMON = ("sourcedId", "status", "dateLastModified", "metadata")

# The 1.1 information model's properties per resource; filters on anything else are refused.
FIELDS: dict[str, frozenset[str]] = {
    "orgs": frozenset(
        (*_COMMON, "name", "type", "identifier", "parent", "children"),
    ),
    "academicSessions": frozenset(
        (*_COMMON, "title", "startDate", "endDate", "type", "parent", "children", "schoolYear"),
    ),
    "courses": frozenset(
        (
            *_COMMON,
            "title",
            "schoolYear",
            "courseCode",
            "grades",
            "subjects",
            "org",
            "subjectCodes",
            "resources",
        ),
    ),
    "classes": frozenset(
        (
            *_COMMON,
            "title",
            "classCode",
            "classType",
            "location",
            "grades",
            "subjects",
            "course",
            "school",
            "terms",
            "subjectCodes",
            "periods",
            "resources",
        ),
    ),
    "users": frozenset(
        (
            *_COMMON,
            "username",
            "userIds",
            "enabledUser",
            "givenName",
            "familyName",
            "middleName",
            "role",
            "identifier",
            "email",
            "sms",
            "phone",
            "agents",
            "orgs",
            "grades",
            "password",
        ),
    ),
    "enrollments": frozenset(
        (*_COMMON, "user", "class", "school", "role", "primary", "beginDate", "endDate"),
    ),
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One collection endpoint and its singleton form.

    Attributes:
        path: The path segment after the base URL, e.g. "schools".
        source: The `DistrictData` collection it reads, e.g. "orgs".
        envelope: The key wrapping a collection response.
        singular: The key wrapping a singleton response.
        where: A (field, value) pair the records must match, for subset endpoints.
    """

    path: str
    source: str
    envelope: str
    singular: str
    where: tuple[str, str] | None = None

    def admits(self, record: dict[str, Any]) -> bool:
        """Whether a record of the source collection belongs to this endpoint."""
        return self.where is None or record.get(self.where[0]) == self.where[1]

    @property
    def fields(self) -> frozenset[str]:
        """The properties of the resource this endpoint returns."""
        return FIELDS[self.source]


ENDPOINTS: dict[str, Endpoint] = {
    e.path: e
    for e in (
        Endpoint("orgs", "orgs", "orgs", "org"),
        Endpoint("schools", "orgs", "orgs", "org", ("type", "school")),
        Endpoint("academicSessions", "academicSessions", "academicSessions", "academicSession"),
        Endpoint(
            "terms", "academicSessions", "academicSessions", "academicSession", ("type", "term")
        ),
        Endpoint(
            "gradingPeriods",
            "academicSessions",
            "academicSessions",
            "academicSession",
            ("type", "gradingPeriod"),
        ),
        Endpoint("courses", "courses", "courses", "course"),
        Endpoint("classes", "classes", "classes", "class"),
        Endpoint("users", "users", "users", "user"),
        Endpoint("students", "users", "users", "user", ("role", "student")),
        Endpoint("teachers", "users", "users", "user", ("role", "teacher")),
        Endpoint("enrollments", "enrollments", "enrollments", "enrollment"),
    )
}
