"""The data a simulated tenant serves: one district's OneRoster 1.1 collections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
EDUCATOR_ROLES = frozenset({"teacher", "administrator", "aide", "proctor"})
GUARDIAN_ROLES = frozenset({"parent", "guardian"})


@dataclass(frozen=True, slots=True)
class PlantedProblem:
    """One deliberately broken record.

    Attributes:
        entity: The 1.1 type token of the broken record ("user" or "enrollment").
        sourced_id: The sourcedId of the broken record.
        problem: One of the keys of `rostersync.simulator.planting.PROBLEMS`.
        related: sourcedIds of other records involved (the first holder of a duplicated value, the
            student of a broken enrollment).
    """

    entity: str
    sourced_id: str
    problem: str
    related: tuple[str, ...] = ()


@dataclass
class DistrictData:
    """One district's OneRoster 1.1 collections, as lists of raw JSON dicts.

    The list attributes are named after the 1.1 collection envelopes they are served under.
    """

    tenant: str
    seed: int
    orgs: list[Record] = field(default_factory=list)
    academicSessions: list[Record] = field(default_factory=list)
    courses: list[Record] = field(default_factory=list)
    classes: list[Record] = field(default_factory=list)
    users: list[Record] = field(default_factory=list)
    enrollments: list[Record] = field(default_factory=list)
    planted: list[PlantedProblem] = field(default_factory=list)

    def collection(self, name: str) -> list[Record]:
        """The records of one 1.1 collection by its envelope name (e.g. "academicSessions")."""
        if name not in COLLECTIONS:
            raise KeyError(name)
        records: list[Record] = getattr(self, name)
        return records

    def counts(self) -> dict[str, int]:
        """How many records of each kind were generated.

        Returns:
            Keys students, educators (teachers and other staff), guardians (parents and
            guardians), schools, districts, academic_sessions, terms, courses, classes,
            enrollments.
        """
        roles: dict[str, int] = {}
        for user in self.users:
            roles[user["role"]] = roles.get(user["role"], 0) + 1
        return {
            "students": roles.get("student", 0),
            "educators": sum(roles.get(r, 0) for r in EDUCATOR_ROLES),
            "guardians": sum(roles.get(r, 0) for r in GUARDIAN_ROLES),
            "schools": sum(1 for o in self.orgs if o["type"] == "school"),
            "districts": sum(1 for o in self.orgs if o["type"] == "district"),
            "academic_sessions": len(self.academicSessions),
            "terms": sum(1 for s in self.academicSessions if s["type"] == "term"),
            "courses": len(self.courses),
            "classes": len(self.classes),
            "enrollments": len(self.enrollments),
        }
