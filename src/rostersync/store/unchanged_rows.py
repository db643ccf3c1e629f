"""The row hashes the portal holds, and what a run that skipped rows must check against it.

See `domain.unchanged_rows` and docs/decisions/0046. A record's row hash counts only while the
record is active, synced (not made or kept by hand), and still has the content hash it was
written with: anything that changed the record since (another source, a person, an older
release) makes its row be read again. A student counts only while the eligibility a sync would
set is the one the portal holds (set by the sync from the district's metadata field, or, when
the portal is the source, present at all), so a hand-made change is put back as before.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from rostersync.domain.issues import IssueSubject
from rostersync.domain.records import EntityKind
from rostersync.domain.rules import DistrictRules, EligibilitySource
from rostersync.domain.subjects import account_subject, class_subject_of
from rostersync.domain.unchanged_rows import KnownRows, basis_of
from rostersync.store.roster import STREAM_ROWS
from rostersync.store.tables import (
    classes,
    educators,
    eligibility,
    orgs,
    students,
)

__all__ = ["StoredNames", "known_rows", "owners_among"]

_PEOPLE = (EntityKind.STUDENT, EntityKind.EDUCATOR)
# Values per `IN (…)` list.
_CHUNK = 500


def known_rows(conn: Connection, district_id: str, rules: DistrictRules) -> KnownRows:
    """The row hashes a run of `district_id` under `rules` may know rows unchanged by."""
    users: dict[str, tuple[str, EntityKind]] = {}
    both: set[str] = set()
    for kind, stmt in (
        (EntityKind.STUDENT, _students(district_id, rules)),
        (EntityKind.EDUCATOR, _hashes(educators, district_id, hand_made=True)),
    ):
        for sid, digest in conn.execute(stmt.execution_options(yield_per=STREAM_ROWS)):
            if sid in users:
                both.add(sid)  # in both tables: its row is read, so its role decides
            users[sid] = (digest, kind)
    for sid in both:
        del users[sid]
    found = {
        sid: (digest, EntityKind.CLASS)
        for sid, digest in conn.execute(
            _hashes(classes, district_id).execution_options(yield_per=STREAM_ROWS)
        )
    }
    return KnownRows(basis=basis_of(rules), stored={"classes": found, "users": users})


def _hashes(table: Any, district_id: str, *, hand_made: bool = False) -> Any:
    conditions = [
        table.c.district_id == district_id,
        table.c.active.is_(True),
        table.c.sourced_id.is_not(None),
        table.c.row_hash.is_not(None),
        table.c.row_hash_of == table.c.content_hash,
    ]
    if hand_made:
        conditions.append(table.c.manually_rostered.is_(False))
    return select(table.c.sourced_id, table.c.row_hash).where(*conditions)


def _students(district_id: str, rules: DistrictRules) -> Any:
    stmt = _hashes(students, district_id, hand_made=True).join_from(
        students, eligibility, eligibility.c.student_id == students.c.id
    )
    if rules.eligibility_source is EligibilitySource.METADATA:
        stmt = stmt.where(eligibility.c.source == f"metadata.{rules.eligibility_field}")
    return stmt


def owners_among(
    conn: Connection,
    district_id: str,
    emails: Collection[str],
    student_ids: Collection[str],
    sourced_ids: Mapping[EntityKind, Collection[str]],
) -> set[str]:
    """Which of `sourced_ids` (per people kind) are active accounts holding one of `emails`
    (trimmed and lower-cased, ASCII only: the databases lower-case ASCII alike) or, for
    students, one of `student_ids`."""
    found: set[str] = set()
    for kind, table in ((EntityKind.STUDENT, students), (EntityKind.EDUCATOR, educators)):
        among = sourced_ids.get(kind)
        if not among:
            continue
        # Stored trimmed (`validate_people.project_person`): the lower(email) index finds them.
        email = func.lower(table.c.email)
        keys: list[tuple[Any, list[str]]] = [(email, sorted(emails))]
        if table is students:
            keys.append((table.c.student_id, sorted(student_ids)))
        for column, values in keys:
            for start in range(0, len(values), _CHUNK):
                stmt = select(table.c.sourced_id).where(
                    table.c.district_id == district_id,
                    table.c.active.is_(True),
                    column.in_(values[start : start + _CHUNK]),
                )
                found.update(sid for sid in conn.execute(stmt).scalars() if sid in among)
    return found


class StoredNames:
    """`domain.subjects.PortalNames` from the portal's tables, for the people and classes in
    `unchanged` only (any other was read, or is not in the pull): each kind read in one query,
    the first time an enrollment's issue needs one of its names (never in a clean run)."""

    def __init__(
        self, engine: Engine, district_id: str, unchanged: Mapping[EntityKind, Collection[str]]
    ) -> None:
        self._engine, self._district_id = engine, district_id
        self._unchanged = unchanged
        self._people: dict[str, IssueSubject] | None = None
        self._classes: dict[str, IssueSubject] | None = None
        self._schools: dict[str, str] | None = None

    def person(self, sourced_id: str) -> IssueSubject | None:
        if not any(sourced_id in self._unchanged.get(kind, ()) for kind in _PEOPLE):
            return None
        if self._people is None:
            self._people = self._read_people()
        return self._people.get(sourced_id)

    def school_class(self, sourced_id: str) -> IssueSubject | None:
        if sourced_id not in self._unchanged.get(EntityKind.CLASS, ()):
            return None
        if self._classes is None:
            self._classes = self._read_classes()
        return self._classes.get(sourced_id)

    def _schools_of(self, conn: Connection) -> dict[str, str]:
        if self._schools is None:
            stmt = select(orgs.c.sourced_id, orgs.c.name).where(
                orgs.c.district_id == self._district_id
            )
            self._schools = {sid: name.strip() for sid, name in conn.execute(stmt)}
        return self._schools

    def _read_people(self) -> dict[str, IssueSubject]:
        found: dict[str, IssueSubject] = {}
        with self._engine.connect() as conn:
            schools = self._schools_of(conn)
            s = students.c
            for row in conn.execute(
                select(
                    s.sourced_id,
                    s.given_name,
                    s.family_name,
                    s.student_id,
                    s.grade,
                    s.school_sourced_ids,
                ).where(s.district_id == self._district_id, s.sourced_id.is_not(None))
            ):
                found[row.sourced_id] = account_subject(
                    given_name=row.given_name,
                    family_name=row.family_name,
                    role="student",
                    school_sourced_ids=row.school_sourced_ids,
                    schools=schools,
                    student_id=row.student_id,
                    grade=row.grade,
                )
            e = educators.c
            for educator in conn.execute(
                select(
                    e.sourced_id, e.given_name, e.family_name, e.role, e.school_sourced_ids
                ).where(e.district_id == self._district_id, e.sourced_id.is_not(None))
            ):
                found.setdefault(
                    educator.sourced_id,
                    account_subject(
                        given_name=educator.given_name,
                        family_name=educator.family_name,
                        role=educator.role,
                        school_sourced_ids=educator.school_sourced_ids,
                        schools=schools,
                    ),
                )
        return found

    def _read_classes(self) -> dict[str, IssueSubject]:
        c = classes.c
        with self._engine.connect() as conn:
            schools = self._schools_of(conn)
            return {
                row.sourced_id: class_subject_of(
                    title=row.title,
                    class_code=row.class_code,
                    school_sourced_id=row.school_sourced_id,
                    schools=schools,
                )
                for row in conn.execute(
                    select(c.sourced_id, c.title, c.class_code, c.school_sourced_id).where(
                        c.district_id == self._district_id
                    )
                )
            }
